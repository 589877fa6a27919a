output "webhook_urls" {
  description = "Paste the github URL into the repository's webhook settings (content type application/json)."
  value       = module.airhook.webhook_urls
}

output "service_account_email" {
  description = "The function's identity (it needs nothing on the Airflow side: it signs in with the user and password)."
  value       = module.airhook.service_account_email
}
