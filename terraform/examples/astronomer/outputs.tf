output "webhook_urls" {
  description = "Paste the github URL into the repository's webhook settings (content type application/json)."
  value       = module.airhook.webhook_urls
}
