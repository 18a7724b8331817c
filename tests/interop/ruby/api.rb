# Read and act on Sidekiq's data through Sidekiq's own Ruby API.
#
# Usage: ruby api.rb COMMAND [IDENTITY]
# Sidekiq connects to $REDIS_URL. Every command prints one JSON value.
#
#   retries | scheduled | dead   entries of that sorted set, through
#                                Sidekiq::RetrySet / ScheduledSet / DeadSet
#   processes                    Sidekiq::ProcessSet
#   workers                      Sidekiq::Workers (busy jobs)
#   stats                        Sidekiq::Stats
#   reschedule_retries           SortedEntry#reschedule of every retry to
#                                one second ago; prints the new set size
#   quiet IDENTITY | stop IDENTITY
#                                Sidekiq::Process#quiet! / #stop!; exits 1
#                                when no process has that identity

require "json"
require "sidekiq"
require "sidekiq/api"

def entry_hash(entry)
  {
    "score" => entry.score,
    "jid" => entry.jid,
    "class" => entry.klass,
    "display_class" => entry.display_class,
    "args" => entry.args,
    "queue" => entry.queue,
    "item" => entry.item,
    "retry_count" => entry["retry_count"],
    "error_class" => entry["error_class"],
    "error_message" => entry["error_message"],
    "failed_at" => entry["failed_at"],
    "retried_at" => entry["retried_at"],
    "error_backtrace" => entry["error_backtrace"] ? entry.error_backtrace : nil,
  }
end

def process_hash(process)
  keys = %w[identity hostname pid tag labels queues concurrency busy beat quiet rss started_at]
  keys.to_h { |key| [key, process[key]] }.merge("stopping" => process.stopping?)
end

def find_process(identity)
  process = Sidekiq::ProcessSet.new.find { |candidate| candidate.identity == identity }
  abort "no process with identity #{identity.inspect} in Sidekiq::ProcessSet" unless process
  process
end

command = ARGV.fetch(0)
result =
  case command
  when "retries" then Sidekiq::RetrySet.new.map { |entry| entry_hash(entry) }
  when "scheduled" then Sidekiq::ScheduledSet.new.map { |entry| entry_hash(entry) }
  when "dead" then Sidekiq::DeadSet.new.map { |entry| entry_hash(entry) }
  when "processes" then Sidekiq::ProcessSet.new.map { |process| process_hash(process) }
  when "workers"
    Sidekiq::Workers.new.map do |process_id, thread_id, work|
      {"process" => process_id, "thread" => thread_id, "queue" => work["queue"],
       "run_at" => work["run_at"], "payload" => work["payload"]}
    end
  when "stats"
    stats = Sidekiq::Stats.new
    {
      "processed" => stats.processed,
      "failed" => stats.failed,
      "enqueued" => stats.enqueued,
      "scheduled_size" => stats.scheduled_size,
      "retry_size" => stats.retry_size,
      "dead_size" => stats.dead_size,
      "processes_size" => stats.processes_size,
      "queues" => stats.queues,
      # Daily counters of the last day, keyed by UTC date ("2024-05-01").
      "history_processed" => Sidekiq::Stats::History.new(1).processed,
      "history_failed" => Sidekiq::Stats::History.new(1).failed,
    }
  when "reschedule_retries"
    retries = Sidekiq::RetrySet.new
    retries.each { |entry| entry.reschedule(Time.now.to_f - 1) }
    Sidekiq::RetrySet.new.size
  when "quiet" then find_process(ARGV.fetch(1)).quiet! && true
  when "stop" then find_process(ARGV.fetch(1)).stop! && true
  else
    abort "unknown command #{command.inspect}"
  end

puts JSON.generate(result)
