# Loaded by `sidekiq -r`: the job, with Sidekiq's log level raised to WARN so
# that no line is written per job. The CLI sets up its logger before it loads
# this file, so this level is the one that applies.
require_relative "sidekiq_job"

Sidekiq.logger.level = Logger::WARN
