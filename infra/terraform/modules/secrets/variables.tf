variable "name_prefix" {
  description = "Prefix of every secret's name and of the KMS key's alias, e.g. adlake-prod."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once: for throwaway environments only)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
