output "webhook_urls" {
  description = "Paste the github URL into the repository's webhook settings (content type application/json)."
  value       = module.airhook.webhook_urls
}

output "airflow_caller" {
  description = "The service account that calls Airflow, and the command that registers it in Airflow when Composer does not do so by itself (README)."
  value       = module.airhook.airflow_caller
}

output "scheduler_jobs" {
  description = "The nightly job: its URL, and the audience and service account its google-oidc source expects."
  value       = module.airhook.scheduler_jobs
}

output "topic" {
  description = "The deliveries topic (for airhook.redrive --topic)."
  value       = module.airhook.topic
}

output "dead_letter_subscription" {
  description = "Where dead letters wait (for airhook.redrive --subscription)."
  value       = module.airhook.dead_letter_subscription
}
