# ------------------------------------------------------------------------------------- placement

variable "project_id" {
  description = "Project that hosts the functions, service accounts, queue and scheduler jobs."
  type        = string
}

variable "region" {
  description = "Region of the functions, the source bucket and the queue push endpoint, e.g. europe-west1."
  type        = string
}

variable "name" {
  description = "Base name of every resource: the receiver function is called NAME, the queue consumer NAME-deliver, the service accounts NAME-receive, NAME-deliver, NAME-build, NAME-push and NAME-sched."
  type        = string
  default     = "airhook"

  validation {
    # Service account ids are 6-30 characters and the longest suffix is "-deliver".
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name))
    error_message = "name: 3-22 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels put on the functions, the bucket and the Pub/Sub resources."
  type        = map(string)
  default     = {}
}

variable "enable_apis" {
  description = "Enable the Google APIs this module uses (they are never disabled on destroy). Turn off when a project factory manages APIs."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------- source

variable "source_root" {
  description = "Directory holding main.py, the airhook/ package and requirements.txt. null: the repository root, one level above this module."
  type        = string
  default     = null
}

variable "config_file" {
  description = "Routes file (airhook.yaml) on the machine that runs Terraform. null: airhook.yaml in source_root. It is deployed at the archive root under its own file name, and AIRHOOK_CONFIG names it."
  type        = string
  default     = null

  validation {
    condition     = can(regex("\\.ya?ml$", coalesce(var.config_file, "airhook.yaml")))
    error_message = "config_file: expected a .yaml or .yml file."
  }
}

variable "extra_requirements" {
  description = "Requirement files appended to requirements.txt in the deployed archive, for optional dependencies, e.g. [\"requirements-mwaa.txt\"] (boto3, for `auth: mwaa`). Paths relative to source_root, or absolute."
  type        = list(string)
  default     = []
}

variable "runtime" {
  description = "Cloud Functions runtime, pinned to the Python version the test suite runs on."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3[0-9]{2}$", var.runtime))
    error_message = "runtime: expected a Python runtime id such as python311 or python312."
  }
}

variable "source_bucket_name" {
  description = "Name of the bucket created for the source archives. null: PROJECT_ID-NAME-source."
  type        = string
  default     = null
}

# ------------------------------------------------------------------------------ receiver function

variable "memory" {
  description = "Memory of the receiver function (Cloud Run notation, e.g. 1Gi). Size it with concurrency: a request holds up to about 2 x its body while it is read and verified (25 MiB, GitHub's cap, is the default max_body_bytes), so one instance needs about 64 MiB + concurrency x 2 x the largest max_body_bytes, plus room to parse a large verified body (docs/reliability.md)."
  type        = string
  default     = "1Gi"
}

variable "cpu" {
  description = "vCPUs of the receiver function. Concurrency above 1 needs at least 1 vCPU."
  type        = string
  default     = "1"
}

variable "timeout_seconds" {
  description = "Request timeout of the receiver function. GitHub gives up on a delivery after 10 s, so the receiver answers well before that; the headroom covers a slow cold start."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds: 1 to 3600 (HTTP functions)."
  }
}

variable "min_instances" {
  description = "Instances kept warm for the receiver (0 scales to zero; 1 removes most cold starts at a small fixed cost)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on receiver instances. In direct mode every request may trigger a DAG run, so this times concurrency caps the load on Airflow."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instances >= 1
    error_message = "max_instances: at least 1."
  }
}

variable "concurrency" {
  description = "Requests one receiver instance handles at once (the work is I/O: verify, then one call to Airflow or Pub/Sub). Each may hold about 2 x the largest max_body_bytes in memory: keep concurrency x 2 x 25 MiB (the default limit) well inside memory; the defaults (8, 1Gi) leave about half of it for parsing verified bodies."
  type        = number
  default     = 8

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000
    error_message = "concurrency: 1 to 1000."
  }
}

# ------------------------------------------------------------------------------------ delivery

variable "delivery_mode" {
  description = "direct: the receiver triggers the DAG run before answering. queue: the receiver publishes to Pub/Sub and answers; a second function (entry point `deliver`) fed by a push subscription triggers the run, with retries and a dead-letter topic. Must match `delivery.mode` in the routes file."
  type        = string
  default     = "direct"

  validation {
    condition     = contains(["direct", "queue"], var.delivery_mode)
    error_message = "delivery_mode: direct or queue."
  }
}

variable "deliver_memory" {
  description = "queue mode: memory of the deliver function."
  type        = string
  default     = "512Mi"
}

variable "deliver_cpu" {
  description = "queue mode: vCPUs of the deliver function (at least 1 when deliver_concurrency > 1)."
  type        = string
  default     = "1"
}

variable "deliver_timeout_seconds" {
  description = "queue mode: request timeout of the deliver function; the push subscription's ack deadline follows it."
  type        = number
  default     = 60

  validation {
    condition     = var.deliver_timeout_seconds >= 10 && var.deliver_timeout_seconds <= 570
    error_message = "deliver_timeout_seconds: 10 to 570 (the ack deadline, 30 s more, must stay within Pub/Sub's 600 s)."
  }
}

variable "deliver_max_instances" {
  description = "queue mode: upper bound on deliver instances. Together with deliver_concurrency it caps the DAG runs in flight: Airflow's API accepts tens of runs per second, and Pub/Sub backs off when the function answers 429."
  type        = number
  default     = 2

  validation {
    condition     = var.deliver_max_instances >= 1
    error_message = "deliver_max_instances: at least 1."
  }
}

variable "deliver_concurrency" {
  description = "queue mode: pushed messages one deliver instance handles at once."
  type        = number
  default     = 4

  validation {
    condition     = var.deliver_concurrency >= 1 && var.deliver_concurrency <= 1000
    error_message = "deliver_concurrency: 1 to 1000."
  }
}

variable "queue_max_delivery_attempts" {
  description = "queue mode: attempts before a message moves to the dead-letter topic."
  type        = number
  default     = 10

  validation {
    condition     = var.queue_max_delivery_attempts >= 5 && var.queue_max_delivery_attempts <= 100
    error_message = "queue_max_delivery_attempts: Pub/Sub allows 5 to 100."
  }
}

variable "queue_minimum_backoff" {
  description = "queue mode: shortest wait before a failed message is pushed again (e.g. 10s)."
  type        = string
  default     = "10s"
}

variable "queue_maximum_backoff" {
  description = "queue mode: longest wait before a failed message is pushed again (at most 600s)."
  type        = string
  default     = "600s"
}

variable "queue_message_retention" {
  description = "queue mode: how long unacknowledged messages are kept, on the push and on the dead-letter subscription (at most 31 days)."
  type        = string
  default     = "604800s"
}

variable "kms_key_name" {
  description = "Cloud KMS key for the Pub/Sub topics (customer-managed encryption). null: Google-managed keys. The Pub/Sub service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on the key."
  type        = string
  default     = null
}

# ----------------------------------------------------------------------- configuration, secrets

variable "environment_variables" {
  description = "Non-secret environment variables for both functions, e.g. { AIRFLOW_URL = \"https://...\" }. The module adds AIRHOOK_CONFIG, AIRHOOK_URL and AIRHOOK_ROLE; in queue mode AIRHOOK_TOPIC, AIRHOOK_DEAD_LETTER_TOPIC, AIRHOOK_MAX_DELIVERY_ATTEMPTS and AIRHOOK_MINIMUM_BACKOFF, for deliver AIRHOOK_PUSH_AUDIENCE and AIRHOOK_PUSH_SERVICE_ACCOUNT, and the secrets AIRHOOK_SIGNING_KEY(_PREVIOUS); with scheduler jobs AIRHOOK_SCHEDULER_SERVICE_ACCOUNT."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key in keys(var.environment_variables) :
      !contains(["AIRHOOK_CONFIG", "AIRHOOK_URL", "AIRHOOK_TOPIC", "AIRHOOK_DEAD_LETTER_TOPIC", "AIRHOOK_MAX_DELIVERY_ATTEMPTS", "AIRHOOK_MINIMUM_BACKOFF", "AIRHOOK_SCHEDULER_SERVICE_ACCOUNT", "AIRHOOK_ROLE", "AIRHOOK_PUSH_AUDIENCE", "AIRHOOK_PUSH_SERVICE_ACCOUNT", "AIRHOOK_SIGNING_KEY", "AIRHOOK_SIGNING_KEY_PREVIOUS"], key)
    ])
    error_message = "environment_variables: the AIRHOOK_* names the module sets are reserved (terraform/README.md, Usage)."
  }
}

variable "secret_environment_variables" {
  description = "Environment variables read from Secret Manager when an instance starts: env name => { secret = secret id, version = a version number (recommended: pinned) or \"latest\", project_id = null for this project, functions = which functions read it (default: in queue mode, the functions whose part of the routes file names $${NAME}: receive for `sources`, deliver for `airflow`, both for `routes` and `delivery`; in direct mode the one function) }. Each function's service account gets roles/secretmanager.secretAccessor on exactly the secrets it reads. Two names on two versions of one secret give zero-downtime rotation (see README)."
  type = map(object({
    secret     = string
    version    = optional(string, "latest")
    project_id = optional(string)
    functions  = optional(list(string))
  }))
  default = {}

  validation {
    condition = alltrue([
      for item in values(var.secret_environment_variables) :
      can(regex("^[A-Za-z0-9_-]{1,255}$", item.secret)) && can(regex("^(latest|[1-9][0-9]*)$", item.version))
    ])
    error_message = "secret_environment_variables: secret is a secret id (not a path), version a number or \"latest\"."
  }

  validation {
    condition = alltrue([
      for item in values(var.secret_environment_variables) :
      item.functions == null || alltrue([for fn in coalesce(item.functions, []) : contains(["receive", "deliver"], fn)])
    ])
    error_message = "secret_environment_variables: functions lists receive and/or deliver."
  }
}

variable "queue_signing_key" {
  description = "Queue mode (required there): the Secret Manager secret holding the key that signs the messages receive queues and deliver and redrive verify (32+ random bytes: `openssl rand -base64 32`). Only the two functions can read it, as AIRHOOK_SIGNING_KEY and, during a rotation, AIRHOOK_SIGNING_KEY_PREVIOUS (previous_version); the routes file names them in delivery.signing_keys."
  type = object({
    secret           = string
    version          = optional(string, "latest")
    previous_version = optional(string)
    project_id       = optional(string)
  })
  default = null

  validation {
    condition = var.queue_signing_key == null || (
      can(regex("^[A-Za-z0-9_-]{1,255}$", var.queue_signing_key.secret)) &&
      can(regex("^(latest|[1-9][0-9]*)$", var.queue_signing_key.version)) &&
      can(regex("^(latest|[1-9][0-9]*)$", coalesce(var.queue_signing_key.previous_version, "latest")))
    )
    error_message = "queue_signing_key: secret is a secret id (not a path), version and previous_version numbers or \"latest\"."
  }
}

# ---------------------------------------------------------------------------------------- access

variable "public" {
  description = "Let anyone invoke the receiver (roles/run.invoker for allUsers). Webhook senders cannot carry Google credentials; every source is verified by its signature or token instead. false: only the scheduler's service account and invoker_members may call it."
  type        = bool
  default     = true
}

variable "invoker_members" {
  description = "Extra principals (e.g. serviceAccount:x@p.iam.gserviceaccount.com) allowed to invoke the receiver when public = false."
  type        = list(string)
  default     = []
}

variable "ingress_settings" {
  description = "Network ingress of the receiver: ALLOW_ALL (webhooks from the internet), ALLOW_INTERNAL_ONLY (only Cloud Scheduler, Pub/Sub, Eventarc, Workflows of this project and the VPC), or ALLOW_INTERNAL_AND_GCLB (behind an external load balancer, e.g. with Cloud Armor)."
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress_settings)
    error_message = "ingress_settings: ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector (projects/P/locations/R/connectors/C) for an Airflow on private addresses, or for a static egress IP through Cloud NAT. null: no VPC egress."
  type        = string
  default     = null
}

variable "vpc_connector_egress_settings" {
  description = "With a connector: PRIVATE_RANGES_ONLY (only RFC 1918 traffic through the VPC) or ALL_TRAFFIC (everything, e.g. for a NAT IP that Airflow's allow-list names)."
  type        = string
  default     = "PRIVATE_RANGES_ONLY"

  validation {
    condition     = contains(["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"], var.vpc_connector_egress_settings)
    error_message = "vpc_connector_egress_settings: PRIVATE_RANGES_ONLY or ALL_TRAFFIC."
  }
}

variable "composer_project_id" {
  description = "Project of the Cloud Composer environment, for `auth: google`. The function that calls Airflow (the receiver in direct mode, deliver in queue mode) gets roles/composer.user there; register it in Airflow too (README). null: Airflow is not Composer."
  type        = string
  default     = null
}

# ------------------------------------------------------------------------------------- scheduler

variable "scheduler_jobs" {
  description = "Cloud Scheduler jobs, job name => { schedule (cron), source (the google-oidc source in the routes file, i.e. the URL path), time_zone, body (JSON text), headers, description, paused, attempt_deadline, retry_count }. Each job POSTs to the receiver with an OIDC token of the NAME-sched service account; the outputs give the audience and email the source must expect."
  type = map(object({
    schedule         = string
    source           = string
    time_zone        = optional(string, "Etc/UTC")
    body             = optional(string, "{}")
    headers          = optional(map(string), {})
    description      = optional(string)
    paused           = optional(bool, false)
    attempt_deadline = optional(string, "60s")
    retry_count      = optional(number, 1)
  }))
  default = {}

  validation {
    condition     = alltrue([for key in keys(var.scheduler_jobs) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", key))])
    error_message = "scheduler_jobs: job names are lower-case letters, digits, - and _."
  }
}

variable "scheduler_region" {
  description = "Region of the Cloud Scheduler jobs. null: region."
  type        = string
  default     = null
}

# ------------------------------------------------------------------------------------ monitoring

variable "enable_monitoring" {
  description = "Create a log-based metric that counts delivery outcomes (label `outcome`) and an alert policy on failed deliveries (outcomes airflow_unavailable, airflow_error, internal_error; in queue mode also messages on the dead-letter subscription)."
  type        = bool
  default     = true
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the failure alert notifies. Empty: incidents appear in the console only."
  type        = list(string)
  default     = []
}

variable "alert_failure_threshold" {
  description = "The alert fires when more than this many deliveries fail within 5 minutes."
  type        = number
  default     = 0
}
