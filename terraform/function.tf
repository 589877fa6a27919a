data "google_project" "this" {
  project_id = var.project_id
}

# secret_environment_variables wants the secret's project *number*: an id would show as a change
# on every plan.
data "google_project" "secrets" {
  for_each   = toset([for item in values(local.secrets) : item[0].project_id])
  project_id = each.value
}

# ------------------------------------------------------------------------------- source archive

# Built from the runtime files listed in locals.tf, file by file: the zip holds sorted entries
# with zeroed timestamps, so its hash changes only when a file's content does. requirements.txt
# gets the lines of extra_requirements appended.
data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.root}/.terraform/airhook/${var.name}-source.zip"

  dynamic "source" {
    for_each = local.runtime_files
    content {
      filename = source.key
      content  = length(source.value) == 1 ? file(source.value[0]) : join("", [for path in source.value : "${chomp(file(path))}\n"])
    }
  }
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs (source archives, no secrets); reads can be audited with Cloud Audit Logs (data access), a usage-log bucket would be one more bucket to manage.
  project                     = var.project_id
  name                        = coalesce(var.source_bucket_name, "${var.project_id}-${var.name}-source")
  location                    = var.region
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Archives are rebuilt from the repository at will.
  force_destroy = true

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this]
}

# The object name carries the archive's hash, so a code or config change is a new object and the
# functions redeploy; an unchanged tree plans no change.
resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = "${var.name}/source-${data.archive_file.source.output_sha256}.zip"
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

# ------------------------------------------------------------------------------------ functions

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:The receiver's ingress is var.ingress_settings, ALLOW_ALL by default because webhook senders (GitHub, SaaS) call from the internet; every source is verified by signature or token (README: Ingress). The deliver function is always ALLOW_INTERNAL_ONLY.
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = each.value.name
  description = each.value.description
  labels      = var.labels

  build_config {
    runtime     = var.runtime
    entry_point = each.value.entry_point
    # A dedicated build identity: new projects would otherwise build as the default compute
    # service account.
    service_account = google_service_account.this["build"].id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.this[each.key].email
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : var.vpc_connector_egress_settings
    environment_variables            = local.function_environment[each.key]

    # Only this function's secrets (AIRHOOK_ROLE: receive never reads Airflow's, deliver never
    # the webhook secrets).
    dynamic "secret_environment_variables" {
      for_each = local.function_secrets[each.key]
      content {
        key        = secret_environment_variables.key
        project_id = data.google_project.secrets[secret_environment_variables.value.project_id].number
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  lifecycle {
    precondition {
      condition     = each.value.concurrency == 1 || tonumber(each.value.cpu) >= 1
      error_message = "${each.value.name}: concurrency above 1 needs at least 1 vCPU (cpu / deliver_cpu)."
    }
    precondition {
      # (unless the file takes its mode from a variable)
      condition     = local.config_delivery_mode == var.delivery_mode || !can(regex("^[a-z]+$", local.config_delivery_mode))
      error_message = "delivery_mode is ${var.delivery_mode}, but the routes file ${local.config_name} says delivery.mode: ${local.config_delivery_mode}."
    }
    precondition {
      condition     = length(setintersection(keys(var.environment_variables), keys(var.secret_environment_variables))) == 0
      error_message = "A name is in both environment_variables and secret_environment_variables."
    }
    precondition {
      condition     = !local.queue || var.queue_signing_key != null
      error_message = "delivery_mode = \"queue\" needs queue_signing_key: the Secret Manager secret that signs the queued messages (terraform/README.md, Durable mode)."
    }
  }

  # The build identity must be allowed to build, and the runtime identity must be able to read
  # its secrets, publish and reach Composer when the first instance starts.
  depends_on = [
    google_project_iam_member.build,
    google_secret_manager_secret_iam_member.accessor,
    google_pubsub_topic_iam_member.publisher,
    google_project_iam_member.composer_user,
  ]
}

check "receiver_url" {
  assert {
    condition     = google_cloudfunctions2_function.this["receive"].url == local.receive_url
    error_message = "The receiver answers on ${google_cloudfunctions2_function.this["receive"].url}, not on ${local.receive_url} as AIRHOOK_URL, the webhook URLs and the scheduler jobs assume."
  }
}
