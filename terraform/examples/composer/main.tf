# airhook in front of a Cloud Composer 2/3 environment: GitHub deliveries and a nightly schedule
# become DAG runs, queued on Pub/Sub so that none is lost while Airflow's web server restarts
# (upgrades, maintenance), and triggered as the deliver function's own service account.

provider "google" {
  project = var.project_id
  region  = var.region
}

locals {
  composer_project_id = coalesce(var.composer_project_id, var.project_id)
}

# The Airflow web server URL (https://<id>-dot-<region>.composer.googleusercontent.com).
data "google_composer_environment" "airflow" {
  project = local.composer_project_id
  region  = coalesce(var.composer_region, var.region)
  name    = var.composer_environment
}

module "airhook" {
  source = "../.."

  project_id = var.project_id
  region     = var.region

  # Durable: the receiver queues, `deliver` triggers with retries (airhook.yaml: delivery).
  delivery_mode = "queue"
  # The key that signs the queued messages: only receive and deliver can read it.
  queue_signing_key = { secret = var.queue_signing_key_id, version = var.queue_signing_key_version }

  # The routes file of this example: Airflow auth `google`, a GitHub and a scheduler source.
  config_file = "${path.module}/airhook.yaml"

  environment_variables = {
    AIRFLOW_URL = data.google_composer_environment.airflow.config[0].airflow_uri
  }

  # Two versions of one secret: the current one and the one still accepted while GitHub switches.
  secret_environment_variables = {
    GITHUB_WEBHOOK_SECRET          = { secret = var.github_secret_id, version = var.github_secret_version }
    GITHUB_WEBHOOK_SECRET_PREVIOUS = { secret = var.github_secret_id, version = var.github_secret_previous_version }
  }

  # A DAG run every night through the same verified path as the webhooks: the job's OIDC token is
  # checked by the google-oidc source `nightly` (audience and account come from the environment).
  scheduler_jobs = {
    nightly = { schedule = "0 3 * * *", time_zone = "Etc/UTC", source = "nightly", body = "{\"reason\": \"nightly\"}" }
  }

  # roles/composer.user for the identity that calls Airflow (airhook-deliver in queue mode).
  composer_project_id = local.composer_project_id

  notification_channels = var.notification_channels
}
