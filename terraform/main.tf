# airhook on Cloud Functions (2nd gen). The module is split by concern:
#   locals.tf      values derived from the variables only (runtime files, names, URLs, environment)
#   function.tf    source archive, bucket and the functions (receive; deliver in queue mode)
#   iam.tf         service accounts and every role granted (listed in README.md, section IAM)
#   queue.tf       Pub/Sub topic, push subscription, dead-letter topic and subscription
#   scheduler.tf   Cloud Scheduler jobs with OIDC tokens
#   monitoring.tf  log-based metric and alert policy on failed deliveries
# This file enables the APIs they use.

locals {
  apis = toset(concat(
    [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "run.googleapis.com",
      "storage.googleapis.com",
    ],
    length(var.secret_environment_variables) > 0 ? ["secretmanager.googleapis.com"] : [],
    local.queue ? ["pubsub.googleapis.com"] : [],
    length(var.scheduler_jobs) > 0 ? ["cloudscheduler.googleapis.com"] : [],
    var.enable_monitoring ? ["monitoring.googleapis.com"] : [],
  ))
}

resource "google_project_service" "this" {
  for_each = var.enable_apis ? local.apis : toset([])

  project = var.project_id
  service = each.value
  # Other workloads in the project may use the same APIs.
  disable_on_destroy = false
}
