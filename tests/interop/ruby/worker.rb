# Job classes for a real Sidekiq process: sidekiq -r worker.rb
#
# Jobs that succeed write their arguments as JSON to a new file under
# $INTEROP_OUTPUT_DIR/<class name>/, so the test can compare them exactly.

require "fileutils"
require "json"
require "securerandom"
require "sidekiq"

# With $SIDEKIQ_NAMESPACE set, every key gets that prefix (Sidekiq 6 with redis-namespace).
if ENV["SIDEKIQ_NAMESPACE"]
  Sidekiq.configure_server do |config|
    config.redis = { url: ENV.fetch("REDIS_URL"), namespace: ENV["SIDEKIQ_NAMESPACE"] }
  end
end

Sidekiq.configure_server do |config|
  # Poll the retry and schedule sets about once a second instead of every
  # 5 s per process, so a test waits seconds, not tens of seconds.
  config.options[:poll_interval_average] = 1
end

# Sidekiq's poller sleeps 0 to 5 s before its first poll, to spread a fleet
# that starts at once. One test process needs no spreading, so skip that
# wait. Only the timing changes, not what the poller does.
module SkipInitialPollWait
  private

  def initial_wait
  end
end
Sidekiq::Scheduled::Poller.prepend(SkipInitialPollWait)

def record_args(class_name, args)
  folder = File.join(ENV.fetch("INTEROP_OUTPUT_DIR"), class_name)
  FileUtils.mkdir_p(folder)
  # Write, then rename, so a test polling the folder never reads half a file.
  partial = File.join(folder, ".#{SecureRandom.hex(8)}.partial")
  File.write(partial, JSON.generate(args))
  File.rename(partial, File.join(folder, "#{SecureRandom.hex(8)}.json"))
end

class PythonToRuby
  include Sidekiq::Job

  def perform(*args)
    record_args("PythonToRuby", args)
  end
end

class FailsInRuby
  include Sidekiq::Job
  sidekiq_options retry: 3, backtrace: true

  def perform(*args)
    raise "failed in Ruby with #{args.size} arguments: ünïcödé"
  end
end

# The Ruby side of a job whose Python version fails: here it succeeds.
class FailsInPython
  include Sidekiq::Job

  def perform(*args)
    record_args("FailsInPython", args)
  end
end

# Stays busy until the test creates the gate file, then records it. Gives up
# after 30 s so a failed test cannot keep Sidekiq busy.
class WaitsForGate
  include Sidekiq::Job

  def perform(gate_path)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
    until File.exist?(gate_path)
      raise "gate file #{gate_path} did not appear within 30 s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.05
    end
    record_args("WaitsForGate", [gate_path])
  end
end
