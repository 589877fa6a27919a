variable "project_id" {
  description = "Project for airhook."
  type        = string
}

variable "region" {
  description = "Region for the functions, e.g. europe-west1."
  type        = string
}

variable "airflow_url" {
  description = "Base URL of Airflow's web server / API server, e.g. https://airflow.example.com (no /api/v1)."
  type        = string
}

variable "airflow_auth" {
  description = "How airhook signs in: airflow-jwt (Airflow 3: POST /auth/token) or basic (Airflow 2 with the basic_auth API backend)."
  type        = string
  default     = "airflow-jwt"

  validation {
    condition     = contains(["airflow-jwt", "basic"], var.airflow_auth)
    error_message = "airflow_auth: airflow-jwt or basic."
  }
}

variable "airflow_user" {
  description = "Airflow user that triggers the runs; give it a role that may create DAG runs (Op, or User with the DAGs' edit permission)."
  type        = string
  default     = "airhook"
}

variable "airflow_password_secret" {
  description = "Secret Manager secret with that user's password, and its pinned version."
  type = object({
    secret  = string
    version = string
  })
  default = {
    secret  = "airhook-airflow-password"
    version = "1"
  }
}

variable "github_secret_id" {
  description = "Secret Manager secret that holds the GitHub webhook secret."
  type        = string
  default     = "airhook-github-webhook-secret"
}

variable "github_secret_version" {
  description = "Version of github_secret_id that GitHub signs with now."
  type        = string
  default     = "1"
}

variable "github_secret_previous_version" {
  description = "Version that is still accepted during a rotation; the same as github_secret_version otherwise."
  type        = string
  default     = "1"
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector when Airflow is on private addresses (projects/P/locations/R/connectors/C); null when it is reachable from the internet."
  type        = string
  default     = null
}
