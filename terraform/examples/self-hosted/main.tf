# airhook in front of a self-hosted Airflow (Airflow 3 with its JWT login, or Airflow 2 with basic
# auth), using the repository's own airhook.yaml.

provider "google" {
  project = var.project_id
  region  = var.region
}

module "airhook" {
  source = "../.."

  project_id = var.project_id
  region     = var.region

  # config_file is left at its default: airhook.yaml at the repository root.

  environment_variables = {
    AIRFLOW_URL  = var.airflow_url
    AIRFLOW_AUTH = var.airflow_auth
    AIRFLOW_USER = var.airflow_user
  }

  secret_environment_variables = {
    AIRFLOW_PASSWORD               = var.airflow_password_secret
    GITHUB_WEBHOOK_SECRET          = { secret = var.github_secret_id, version = var.github_secret_version }
    GITHUB_WEBHOOK_SECRET_PREVIOUS = { secret = var.github_secret_id, version = var.github_secret_previous_version }
  }

  # Private Airflow: egress through the VPC for RFC 1918 addresses only.
  vpc_connector = var.vpc_connector
}
