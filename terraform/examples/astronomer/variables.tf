variable "project_id" {
  description = "Project for airhook."
  type        = string
}

variable "region" {
  description = "Region for the functions, e.g. us-central1."
  type        = string
}

variable "airflow_url" {
  description = "The Deployment's Airflow API URL from the Astro UI or `astro deployment inspect` (https://<org>.astronomer.run/<id>, no /api/v1 or /api/v2)."
  type        = string
}

variable "airflow_token_secret" {
  description = "Secret Manager secret with an Astro API token (Deployment or Workspace token that may trigger DAG runs), and its pinned version."
  type = object({
    secret  = string
    version = string
  })
  default = {
    secret  = "airhook-astro-token"
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
