output "function_name" {
  description = "Name of the receiver function (and of its Cloud Run service)."
  value       = google_cloudfunctions2_function.this["receive"].name
}

output "function_url" {
  description = "Base URL of the receiver: a source is served at FUNCTION_URL/SOURCE. Also in the functions' environment as AIRHOOK_URL."
  value       = google_cloudfunctions2_function.this["receive"].url
}

output "function_uri" {
  description = "The receiver's run.app URL (the same function, another host name)."
  value       = google_cloudfunctions2_function.this["receive"].service_config[0].uri
}

output "webhook_urls" {
  description = "Source name => the URL to paste into the sender's webhook settings (POST), for every source in the routes file."
  value       = { for source in local.webhook_sources : source => "${google_cloudfunctions2_function.this["receive"].url}/${source}" }
}

output "service_account_email" {
  description = "Identity of the receiver function."
  value       = google_service_account.this["receive"].email
}

output "deliver_service_account_email" {
  description = "Identity of the deliver function (queue mode), else null."
  value       = local.queue ? google_service_account.this["deliver"].email : null
}

output "build_service_account_email" {
  description = "Identity Cloud Build uses to build the functions."
  value       = google_service_account.this["build"].email
}

output "airflow_caller" {
  description = "The identity that calls Airflow (receiver in direct mode, deliver in queue mode) and, for Cloud Composer, the Airflow user to register for it: username accounts.google.com:UNIQUE_ID, with a ready gcloud command (README: Cloud Composer)."
  value = {
    service_account_email = google_service_account.this[local.airflow_caller].email
    airflow_username      = "accounts.google.com:${google_service_account.this[local.airflow_caller].unique_id}"
    register_command = join(" ", [
      "gcloud composer environments run ENVIRONMENT --location LOCATION --project ${coalesce(var.composer_project_id, var.project_id)}",
      "users create -- -u accounts.google.com:${google_service_account.this[local.airflow_caller].unique_id}",
      "-e ${google_service_account.this[local.airflow_caller].unique_id} -f ${local.service_account_ids[local.airflow_caller]} -l - -r Op --use-random-password",
    ])
  }
}

output "scheduler_service_account_email" {
  description = "Identity whose OIDC tokens the scheduler jobs carry: the email to allow in google-oidc sources (also env AIRHOOK_SCHEDULER_SERVICE_ACCOUNT). null without jobs."
  value       = length(var.scheduler_jobs) > 0 ? google_service_account.this["sched"].email : null
}

output "scheduler_jobs" {
  description = "Job name => { name, uri, audience, service_account_email }: the audience and email are what the job's google-oidc source must expect."
  value = {
    for key, job in google_cloud_scheduler_job.this : key => {
      name                  = job.name
      uri                   = job.http_target[0].uri
      audience              = job.http_target[0].oidc_token[0].audience
      service_account_email = job.http_target[0].oidc_token[0].service_account_email
    }
  }
}

output "topic" {
  description = "queue mode: the topic the receiver publishes to (projects/P/topics/T, env AIRHOOK_TOPIC), else null."
  value       = local.queue ? google_pubsub_topic.deliveries[0].id : null
}

output "push_subscription" {
  description = "queue mode: the push subscription that feeds the deliver function, else null."
  value       = local.queue ? google_pubsub_subscription.push[0].id : null
}

output "dead_letter_topic" {
  description = "queue mode: where messages go after queue_max_delivery_attempts, else null."
  value       = local.queue ? google_pubsub_topic.dead_letter[0].id : null
}

output "dead_letter_subscription" {
  description = "queue mode: the pull subscription that keeps dead letters for inspection and replay, else null."
  value       = local.queue ? google_pubsub_subscription.dead_letter[0].id : null
}

output "deliver_function_uri" {
  description = "queue mode: URL of the deliver function (private; only the push identity may invoke it), else null."
  value       = local.queue ? google_cloudfunctions2_function.this["deliver"].service_config[0].uri : null
}

output "source_archive" {
  description = "gs:// URL of the deployed source archive (named by its SHA-256)."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
}

output "runtime_files" {
  description = "The files in the source archive, as paths inside it."
  value       = sort(keys(local.runtime_files))
}
