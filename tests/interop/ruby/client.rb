# Enqueue jobs from Ruby with Sidekiq's client, for roadie to run.
#
# Usage: ruby client.rb MODE < request.json
# Sidekiq connects to $REDIS_URL. The request is a JSON object read from
# stdin; the script prints a JSON array of the new jids on stdout.
#
# Modes and their request:
#   push          {"job": {...job hash...}}            Sidekiq::Client.push
#   perform_async {"args": [...]}                      RubyToPython.perform_async
#   perform_in    {"seconds": N, "args": [...]}        RubyToPython.perform_in
#   push_bulk     {"class": "Name", "args": [[...]]}   Sidekiq::Client.push_bulk

require "json"
require "sidekiq"

# With $SIDEKIQ_NAMESPACE set, every key gets that prefix (Sidekiq 6 with redis-namespace).
if ENV["SIDEKIQ_NAMESPACE"]
  Sidekiq.configure_client do |config|
    config.redis = { url: ENV.fetch("REDIS_URL"), namespace: ENV["SIDEKIQ_NAMESPACE"] }
  end
end

# Ruby keeps the class so perform_async works, but has no perform method:
# the job runs in Python.
class RubyToPython
  include Sidekiq::Job
end

mode = ARGV.fetch(0)
request = JSON.parse($stdin.read)

jids =
  case mode
  when "push"
    [Sidekiq::Client.push(request.fetch("job"))]
  when "perform_async"
    [RubyToPython.perform_async(*request.fetch("args"))]
  when "perform_in"
    [RubyToPython.perform_in(request.fetch("seconds"), *request.fetch("args"))]
  when "push_bulk"
    Sidekiq::Client.push_bulk("class" => request.fetch("class"), "args" => request.fetch("args"))
  else
    abort "unknown mode #{mode.inspect}; expected push, perform_async, perform_in or push_bulk"
  end

puts JSON.generate(jids)
