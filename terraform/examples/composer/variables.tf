variable "project_id" {
  description = "Project for airhook (the functions, secrets and service accounts)."
  type        = string
}

variable "region" {
  description = "Region for the functions, e.g. europe-west1."
  type        = string
}

variable "composer_environment" {
  description = "Name of the Cloud Composer 2 or 3 environment whose Airflow runs the DAGs."
  type        = string
}

variable "composer_region" {
  description = "Region of the Composer environment. null: region."
  type        = string
  default     = null
}

variable "composer_project_id" {
  description = "Project of the Composer environment. null: project_id."
  type        = string
  default     = null
}

variable "github_secret_id" {
  description = "Secret Manager secret that holds the GitHub webhook secret (created beforehand, see README)."
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

variable "queue_signing_key_id" {
  description = "Secret Manager secret that holds the message-signing key of the queue (created beforehand, see README)."
  type        = string
  default     = "airhook-queue-key"
}

variable "queue_signing_key_version" {
  description = "Version of queue_signing_key_id that receive signs with."
  type        = string
  default     = "1"
}

variable "notification_channels" {
  description = "Monitoring notification channels for the failed-delivery alert."
  type        = list(string)
  default     = []
}
