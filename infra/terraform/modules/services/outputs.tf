output "collector_url" {
  description = "The collector: ad servers POST events to <url>/v1/events."
  value       = "https://${aws_lb.services.dns_name}"
}

output "prediction_api_url" {
  description = "The prediction API: POST <url>/v1/predict."
  value       = "https://${aws_lb.services.dns_name}:8443"
}

output "security_group_ids" {
  description = "Security group of each service's tasks (collector, api, stream): servers they call admit them."
  value       = { for name, sg in aws_security_group.task : name => sg.id }
}

output "stream_state" {
  description = "The stream's state on EFS, for other tasks that mount it at ADLAKE_HOME/stream: file system, access point, security group."
  value = {
    file_system_id    = aws_efs_file_system.state.id
    access_point_id   = aws_efs_access_point.state.id
    security_group_id = aws_security_group.state.id
  }
}

output "cluster_name" {
  description = "The services' ECS cluster."
  value       = aws_ecs_cluster.services.name
}
