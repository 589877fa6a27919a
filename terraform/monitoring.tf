# airhook logs one JSON line per request (receive) and per pushed message (deliver) on stdout,
# with `severity` and an `outcome`: receive says queued, accepted (queue mode), duplicate,
# no_route, handshake, dry_run, rejected, airflow_unavailable, airflow_error, queue_unavailable or
# internal_error; deliver says the run's status as receive would, or retry, renewed, dead_lettered,
# internal_error.
# The metric counts them by outcome; the alert fires on those where a verified delivery has not
# become a DAG run (yet: retry and queue_unavailable are retried by Pub/Sub and by the sender).

locals {
  failed_outcomes = ["airflow_unavailable", "airflow_error", "internal_error", "queue_unavailable", "retry", "dead_lettered"]
  # 2nd gen functions log as the Cloud Run service of the same name.
  function_log_filter = join(" OR ", [for fn in values(local.functions) : "resource.labels.service_name=\"${fn.name}\""])
}

resource "google_logging_metric" "outcomes" {
  count = var.enable_monitoring ? 1 : 0

  project     = var.project_id
  name        = "${var.name}-outcomes"
  description = "airhook deliveries by outcome (from the functions' structured logs)."
  filter      = "resource.type=\"cloud_run_revision\" AND (${local.function_log_filter}) AND jsonPayload.outcome:*"

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "What became of the request or pushed message (airhook's `outcome` log field)."
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "failed_deliveries" {
  count = var.enable_monitoring ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: failed deliveries"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Deliveries that verified but did not become DAG runs. `airflow_unavailable`: Airflow did not
      answer or answered 5xx (direct mode: the sender got 503 and may retry; GitHub does not, so
      redeliver from the webhook's Recent Deliveries). `airflow_error`: Airflow refused the run
      (auth, unknown DAG, bad conf). `queue_unavailable`: the receiver could not publish (the
      sender got 503). `retry`: deliver found Airflow unavailable; Pub/Sub retries. `dead_lettered`:
      Airflow refused a queued run for good, or its retries ran out; it waits on the subscription
      `${local.dead_letter_topic_name}` for `python -m airhook.redrive` (terraform/README.md, Durable
      mode). `internal_error`: a bug in airhook. The function logs with that jsonPayload.outcome
      give the reason.
    EOT
  }

  conditions {
    display_name = "Failed deliveries (${join(", ", local.failed_outcomes)})"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.outcomes[0].name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.outcome=one_of(${join(", ", [for o in local.failed_outcomes : "\"${o}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_failure_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  dynamic "conditions" {
    for_each = local.queue ? [1] : []
    content {
      display_name = "Dead-lettered deliveries"

      condition_threshold {
        filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${local.dead_letter_topic_name}\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"

        aggregations {
          alignment_period   = "300s"
          per_series_aligner = "ALIGN_MAX"
        }

        trigger {
          count = 1
        }
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}
