# Durable mode (delivery_mode = "queue"): the receiver verifies, publishes one message per DAG run
# to `deliveries` and answers; Pub/Sub pushes each message, with an OIDC token, to the deliver
# function, whose answer acknowledges it (2xx) or schedules a retry with backoff (anything else,
# including 429 when deliver_max_instances are busy). After queue_max_delivery_attempts the
# message moves to the dead-letter topic, where a pull subscription keeps it for inspection and
# replay.

resource "google_pubsub_topic" "deliveries" {
  count = local.queue ? 1 : 0

  project      = var.project_id
  name         = local.topic_name
  labels       = var.labels
  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.this]
}

resource "google_pubsub_topic" "dead_letter" {
  count = local.queue ? 1 : 0

  project      = var.project_id
  name         = local.dead_letter_topic_name
  labels       = var.labels
  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.this]
}

resource "google_pubsub_subscription" "push" {
  count = local.queue ? 1 : 0

  project = var.project_id
  name    = "${var.name}-deliver"
  topic   = google_pubsub_topic.deliveries[0].id
  labels  = var.labels

  # Longer than the function's timeout, so a slow but successful trigger is not pushed twice.
  ack_deadline_seconds       = var.deliver_timeout_seconds + 30
  message_retention_duration = var.queue_message_retention

  # Never delete the subscription for inactivity (the default is after 31 quiet days).
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.queue_minimum_backoff
    maximum_backoff = var.queue_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[0].id
    max_delivery_attempts = var.queue_max_delivery_attempts
  }

  # The standard push envelope: functions-framework turns it into the CloudEvent `deliver` takes.
  # deliver checks the token in code against AIRHOOK_PUSH_AUDIENCE (the same local.deliver_url)
  # and AIRHOOK_PUSH_SERVICE_ACCOUNT.
  push_config {
    push_endpoint = google_cloudfunctions2_function.this["deliver"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.this["push"].email
      audience              = local.deliver_url
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.deliver,
    google_service_account_iam_member.push_token_creator,
  ]
}

resource "google_pubsub_subscription" "dead_letter" {
  count = local.queue ? 1 : 0

  project = var.project_id
  name    = local.dead_letter_topic_name
  topic   = google_pubsub_topic.dead_letter[0].id
  labels  = var.labels

  ack_deadline_seconds       = 60
  message_retention_duration = var.queue_message_retention

  expiration_policy {
    ttl = ""
  }
}
