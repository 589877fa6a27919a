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

  # Both functions run the same archive and load the same routes file; they differ in entry point,
  # identity, ingress, scale and role (AIRHOOK_ROLE: which part of the routes file, and so which
  # secrets, each one reads).
  functions = merge(
    {
      receive = {
        role            = local.queue ? "receive" : "all"
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
        role            = "deliver"
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
  # The push's OIDC audience, which deliver checks in code: known at plan time, so it can be put
  # into deliver's own environment (the run.app URI cannot: it exists only once deliver does).
  deliver_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name}-deliver"

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

  # Per function: the shared environment, its role, and (deliver) the push identity it checks.
  function_environment = {
    for fn, spec in local.functions : fn => merge(
      local.environment_variables,
      { AIRHOOK_ROLE = spec.role },
      fn == "deliver" ? {
        AIRHOOK_PUSH_AUDIENCE        = local.deliver_url
        AIRHOOK_PUSH_SERVICE_ACCOUNT = local.service_account_emails.push
      } : {},
    )
  }

  # Which part of the routes file names which variables: each top-level key's lines, by the
  # nearest top-level key above them (the text, not yamldecode: `{password: $${X}}` is not YAML
  # until airhook masks the variables).
  config_lines    = split("\n", file(local.config_path))
  config_tops     = [for i, line in local.config_lines : i if can(regex("^[A-Za-z_][A-Za-z0-9_]*[ \t]*:", line))]
  config_sections = ["airflow", "sources", "routes", "delivery"]
  config_variables = {
    for section in local.config_sections : section => distinct(flatten([
      for i, line in local.config_lines : [for match in regexall("\\$\\{([A-Za-z_][A-Za-z0-9_]*)", line) : match[0]]
      if length([for j in local.config_tops : j if j <= i]) > 0 && try(regex("^([A-Za-z_][A-Za-z0-9_]*)", local.config_lines[max([for j in local.config_tops : j if j <= i]...)])[0], "") == section
    ]))
  }
  # What each role reads (airhook/config.py: receive skips `airflow`, deliver skips `sources`).
  role_sections = {
    all     = local.config_sections
    receive = ["sources", "routes", "delivery"]
    deliver = ["airflow", "routes", "delivery"]
  }

  # The message-signing key (queue mode): receive signs, deliver verifies; nobody else reads it.
  signing_key_variables = local.queue && var.queue_signing_key != null ? merge(
    { AIRHOOK_SIGNING_KEY = { secret = var.queue_signing_key.secret, version = var.queue_signing_key.version, project_id = var.queue_signing_key.project_id, functions = ["receive", "deliver"] } },
    var.queue_signing_key.previous_version == null ? {} : {
      AIRHOOK_SIGNING_KEY_PREVIOUS = { secret = var.queue_signing_key.secret, version = var.queue_signing_key.previous_version, project_id = var.queue_signing_key.project_id, functions = ["receive", "deliver"] }
    },
  ) : {}

  secret_environment_variables = {
    for key, item in merge(var.secret_environment_variables, local.signing_key_variables) : key => {
      secret     = item.secret
      version    = item.version
      project_id = coalesce(item.project_id, var.project_id)
      # Who reads it: as given; else in direct mode the one function; else every function whose
      # part of the routes file names $${key} (none, if no part does).
      functions = item.functions != null ? [for fn in item.functions : fn if contains(keys(local.functions), fn)] : [
        for fn, spec in local.functions : fn
        if !local.queue || length([for section in local.role_sections[spec.role] : section if contains(local.config_variables[section], key)]) > 0
      ]
    }
  }

  # Per function: exactly the secrets it reads.
  function_secrets = {
    for fn in keys(local.functions) : fn => {
      for key, item in local.secret_environment_variables : key => item if contains(item.functions, fn)
    }
  }

  # Each secret once, whichever env names read which versions of it.
  secrets = {
    for item in values(local.secret_environment_variables) :
    "${item.project_id}/${item.secret}" => { project_id = item.project_id, secret = item.secret }...
  }

  # (function, secret) pairs: each function may read exactly the secrets it is given (a secret
  # once, whichever env names read which versions of it).
  secret_accessors = merge([
    for fn, secrets in local.function_secrets : {
      for key, items in {
        for item in values(secrets) : "${item.project_id}/${item.secret}" => item...
      } : "${fn}/${key}" => { function = fn, project_id = items[0].project_id, secret = items[0].secret }
    }
  ]...)
}
