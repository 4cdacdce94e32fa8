terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.20"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
  # State in S3, locked with S3's own lock file (Terraform 1.10+): the bucket, key and
  # region come from backend.hcl (terraform init -backend-config=backend.hcl), so that no
  # account detail is committed.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      project     = "adlake"
      environment = var.environment
    }
  }
}
