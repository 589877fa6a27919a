# Every role this module grants, and to whom, is listed in README.md (section "IAM"); a test holds
# this file to that list. No primitive roles, no default compute service account.

resource "google_service_account" "this" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = local.service_account_ids[each.key]
  display_name = local.service_account_ids[each.key]
  description  = each.value

  depends_on = [google_project_service.this]
}

# Build: the role Google documents for a custom Cloud Run functions build service account
# (build logs, the gcf-artifacts image repository, the staged source).
resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.this["build"].member
}

# Runtime: each function reads exactly the secrets named in secret_environment_variables.
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_accessors

  project   = each.value.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.this[each.value.function].member
}

# Queue mode: the receiver publishes to the deliveries topic; deliver to it (renewals) and to the
# dead-letter topic (runs Airflow refused for good). Nothing else may publish.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_publishers

  project = var.project_id
  topic   = each.value.topic
  role    = "roles/pubsub.publisher"
  member  = google_service_account.this[each.value.account].member

  depends_on = [google_pubsub_topic.deliveries, google_pubsub_topic.dead_letter]
}

# Cloud Composer (`auth: google`): the caller needs the Composer User role to reach the Airflow
# web server and its REST API (Google: "Access the Airflow REST API"); Airflow's own RBAC must
# also know it (README: Composer). Project level is the lowest level this role can be granted at.
resource "google_project_iam_member" "composer_user" {
  count = var.composer_project_id == null ? 0 : 1

  project = var.composer_project_id
  role    = "roles/composer.user"
  member  = google_service_account.this[local.airflow_caller].member
}

# Invocation of the receiver: public for webhook senders, else only the named principals.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["receive"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.public ? toset([]) : toset(concat(
    length(var.scheduler_jobs) > 0 ? ["serviceAccount:${local.service_account_emails.sched}"] : [],
    var.invoker_members,
  ))

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["receive"].name
  role     = "roles/run.invoker"
  member   = each.value

  depends_on = [google_service_account.this]
}

# Queue mode: deliver authenticates every push itself (the push's Google-signed OIDC token:
# audience and the push service account; then the message's signature), so Cloud Run's IAM check
# is not in front of it: Cloud Run removes the signature of a token its IAM check consumed, which
# would leave deliver nothing to verify. Ingress stays ALLOW_INTERNAL_ONLY.
resource "google_cloud_run_v2_service_iam_member" "deliver" {
  #checkov:skip=CKV_GCP_102:deliver verifies the push's Google-signed OIDC token (audience, service account) and the message's HMAC in code; Cloud Run's IAM check would strip the token's signature (README: Durable mode). Ingress is ALLOW_INTERNAL_ONLY.
  count = local.queue ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["deliver"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Queue mode, the Pub/Sub service agent: it mints the push's OIDC tokens as the push identity
# (granted on that one account; projects created before 2021-04-08 lack it otherwise), publishes
# dead letters, and acknowledges what it moved off the push subscription.
locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account_iam_member" "push_token_creator" {
  count = local.queue ? 1 : 0

  service_account_id = google_service_account.this["push"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  count = local.queue ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  count = local.queue ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.push[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
