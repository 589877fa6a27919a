# airhook in front of an Airflow that takes a bearer token (Astronomer's Astro API tokens, or any
# Airflow behind a token-checking proxy).

provider "google" {
  project = var.project_id
  region  = var.region
}

module "airhook" {
  source = "../.."

  project_id = var.project_id
  region     = var.region

  # The routes file of this example: Airflow auth `bearer`.
  config_file = "${path.module}/airhook.yaml"

  environment_variables = {
    AIRFLOW_URL = var.airflow_url
  }

  secret_environment_variables = {
    AIRFLOW_TOKEN                  = var.airflow_token_secret
    GITHUB_WEBHOOK_SECRET          = { secret = var.github_secret_id, version = var.github_secret_version }
    GITHUB_WEBHOOK_SECRET_PREVIOUS = { secret = var.github_secret_id, version = var.github_secret_previous_version }
  }
}
