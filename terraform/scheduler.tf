# Cloud Scheduler jobs: each POSTs its body to RECEIVER_URL/SOURCE with a Google-signed OIDC token
# of the NAME-sched service account, which airhook's google-oidc source verifies (audience and
# email: outputs `scheduler_jobs`, env AIRHOOK_URL and AIRHOOK_SCHEDULER_SERVICE_ACCOUNT).

resource "google_cloud_scheduler_job" "this" {
  for_each = var.scheduler_jobs

  project          = var.project_id
  region           = coalesce(var.scheduler_region, var.region)
  name             = "${var.name}-${each.key}"
  description      = coalesce(each.value.description, "airhook: POST ${each.value.source} on ${each.value.schedule}")
  schedule         = each.value.schedule
  time_zone        = each.value.time_zone
  paused           = each.value.paused
  attempt_deadline = each.value.attempt_deadline

  retry_config {
    retry_count = each.value.retry_count
  }

  http_target {
    http_method = "POST"
    uri         = local.scheduler_targets[each.key].uri
    body        = base64encode(each.value.body)
    headers     = merge({ "Content-Type" = "application/json" }, each.value.headers)

    oidc_token {
      service_account_email = google_service_account.this["sched"].email
      audience              = local.scheduler_targets[each.key].audience
    }
  }

  lifecycle {
    precondition {
      condition     = contains(local.webhook_sources, each.value.source)
      error_message = "Scheduler job ${each.key}: the routes file ${local.config_name} has no source named ${each.value.source} (it has: ${join(", ", local.webhook_sources)})."
    }
  }

  # The receiver must exist (and, when private, admit the job) before the first run.
  depends_on = [
    google_cloudfunctions2_function.this,
    google_cloud_run_v2_service_iam_member.invoker,
  ]
}
