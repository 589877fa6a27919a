# Values computed from the variables alone: no resource, data source or provider appears in this
# file, so tests/terraform evaluates it with a real Terraform offline (init needs no provider).

locals {
  source_root = abspath(coalesce(var.source_root, "${path.module}/.."))
  config_path = abspath(coalesce(var.config_file, "${local.source_root}/airhook.yaml"))
  config_name = basename(local.config_path)

  # Archive path => the files on disk that make it (one, except requirements.txt with extras):
  # what the functions run, and nothing else (no tests, tools, examples, terraform/ or virtual
  # environments). Only .py files of the package, so no __pycache__; not the command line
  # (airhook/cli, which needs requests) nor the Airflow plugin (airhook/plugin, which runs inside
  # Airflow): the functions import neither.
  runtime_files = merge(
    { "main.py" = ["${local.source_root}/main.py"] },
    {
      "requirements.txt" = concat(
        ["${local.source_root}/requirements.txt"],
        [for path in var.extra_requirements : abspath(startswith(path, "/") ? path : "${local.source_root}/${path}")],
      )
    },
    { for path in fileset(local.source_root, "airhook/**/*.py") : path => ["${local.source_root}/${path}"]
    if !startswith(path, "airhook/cli/") && !startswith(path, "airhook/plugin/") },
    { (local.config_name) = [local.config_path] },
  )

  queue = var.delivery_mode == "queue"

  # Both functions run the same archive and load the same routes file, so both get the same
  # environment; they differ in entry point, identity, ingress and scale.
  functions = merge(
    {
      receive = {
        name            = var.name
        entry_point     = "receive"
        description     = "airhook: verifies webhooks and triggers Airflow DAG runs"
        memory          = var.memory
        cpu             = var.cpu
        timeout_seconds = var.timeout_seconds
        min_instances   = var.min_instances
        max_instances   = var.max_instances
        concurrency     = var.concurrency
        ingress         = var.ingress_settings
      }
    },
    local.queue ? {
      deliver = {
        name            = "${var.name}-deliver"
        entry_point     = "deliver"
        description     = "airhook: triggers the DAG runs queued on Pub/Sub"
        memory          = var.deliver_memory
        cpu             = var.deliver_cpu
        timeout_seconds = var.deliver_timeout_seconds
        min_instances   = 0
        max_instances   = var.deliver_max_instances
        concurrency     = var.deliver_concurrency
        # Pub/Sub push from this project counts as internal traffic.
        ingress = "ALLOW_INTERNAL_ONLY"
      }
    } : {},
  )

  # The function that calls Airflow, hence the identity Composer must know.
  airflow_caller = local.queue ? "deliver" : "receive"

  # Service account ids; emails are spelled out (not read from the resources) so that they are
  # known at plan time and can go into environment variables and for_each keys.
  service_account_ids = {
    receive = "${var.name}-receive"
    deliver = "${var.name}-deliver"
    build   = "${var.name}-build"
    push    = "${var.name}-push"
    sched   = "${var.name}-sched"
  }
  # The identities that exist: one per function, the build, and those of the queue and scheduler.
  service_accounts = merge(
    {
      receive = "airhook receiver: verifies webhooks, triggers DAG runs (direct) or queues them"
      build   = "airhook build: Cloud Build identity that builds the functions"
    },
    local.queue ? {
      deliver = "airhook deliver: triggers the DAG runs queued on Pub/Sub"
      push    = "airhook push: the OIDC identity of the Pub/Sub push to deliver"
    } : {},
    length(var.scheduler_jobs) > 0 ? {
      sched = "airhook scheduler: the OIDC identity of the Cloud Scheduler jobs"
    } : {},
  )
  service_account_emails = {
    for key, id in local.service_account_ids : key => "${id}@${var.project_id}.iam.gserviceaccount.com"
  }

  # A 2nd gen function answers on https://REGION-PROJECT.cloudfunctions.net/NAME (and on its
  # run.app URL). This URL is known before the function exists, so it can be put into the
  # function's own environment; a check block compares it with the deployed one.
  receive_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name}"

  topic_name             = "${var.name}-deliveries"
  topic_id               = "projects/${var.project_id}/topics/${local.topic_name}"
  dead_letter_topic_name = "${var.name}-dead-letter"
  dead_letter_topic_id   = "projects/${var.project_id}/topics/${local.dead_letter_topic_name}"

  # Queue mode, who publishes where: the receiver queues runs; deliver renews a message that nears
  # its last attempt (a fresh copy on the same topic) and dead-letters runs Airflow refused for good.
  topic_publishers = local.queue ? {
    "receive/deliveries"  = { account = "receive", topic = local.topic_name }
    "deliver/deliveries"  = { account = "deliver", topic = local.topic_name }
    "deliver/dead-letter" = { account = "deliver", topic = local.dead_letter_topic_name }
  } : {}

  # What the plan needs from the routes file: the sources (URL paths) it declares and its delivery
  # mode. ${NAME} placeholders are plain strings to yamldecode.
  config_document      = try(yamldecode(file(local.config_path)), {})
  webhook_sources      = sort(keys(try(local.config_document.sources, {})))
  config_delivery_mode = try(local.config_document.delivery.mode, "direct")

  # A job POSTs to RECEIVER_URL/SOURCE. The OIDC audience is what the google-oidc source checks:
  # the same URL when the receiver is public (airhook alone verifies the token); the bare function
  # URL when it is private, because Cloud Run's IAM check accepts the service URL as audience.
  scheduler_targets = {
    for key, job in var.scheduler_jobs : key => {
      uri                   = "${local.receive_url}/${job.source}"
      audience              = var.public ? "${local.receive_url}/${job.source}" : local.receive_url
      service_account_email = local.service_account_emails.sched
    }
  }

  environment_variables = merge(
    var.environment_variables,
    {
      AIRHOOK_CONFIG = local.config_name
      AIRHOOK_URL    = local.receive_url
    },
    # Queue mode: what `delivery:` in the routes file refers to, so that deliver's renewals and
    # dead-letters match the push subscription.
    local.queue ? {
      AIRHOOK_TOPIC                 = local.topic_id
      AIRHOOK_DEAD_LETTER_TOPIC     = local.dead_letter_topic_id
      AIRHOOK_MAX_DELIVERY_ATTEMPTS = tostring(var.queue_max_delivery_attempts)
      AIRHOOK_MINIMUM_BACKOFF       = var.queue_minimum_backoff
    } : {},
    length(var.scheduler_jobs) > 0 ? { AIRHOOK_SCHEDULER_SERVICE_ACCOUNT = local.service_account_emails.sched } : {},
  )

  secret_environment_variables = {
    for key, item in var.secret_environment_variables : key => {
      secret     = item.secret
      version    = item.version
      project_id = coalesce(item.project_id, var.project_id)
    }
  }

  # Each secret once, whichever env names read which versions of it.
  secrets = {
    for item in values(local.secret_environment_variables) :
    "${item.project_id}/${item.secret}" => { project_id = item.project_id, secret = item.secret }...
  }

  # (function, secret) pairs: every function loads the whole routes file, so each reads them all.
  secret_accessors = merge([
    for fn in keys(local.functions) : {
      for key, item in local.secrets : "${fn}/${key}" => { function = fn, project_id = item[0].project_id, secret = item[0].secret }
    }
  ]...)
}
