terraform {
  # 1.5: `check` blocks. Validation blocks refer only to their own variable (cross-variable
  # validation needs 1.9); rules that span variables are lifecycle preconditions instead.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}
