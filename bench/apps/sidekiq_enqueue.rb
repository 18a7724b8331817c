# Enqueue BenchNoop jobs with Sidekiq's client and print what was measured as
# one JSON line; the Ruby twin of bench_enqueue.py.
#
# Usage: ruby sidekiq_enqueue.rb MODE JOBS [FIRST [QUEUE]]
#   bulk      one Sidekiq::Client.push_bulk call for all JOBS jobs
#   single    JOBS perform_async calls
#   spaced    JOBS perform_async calls 20 ms apart, reporting the time before each push
#   schedule  the same with perform_at, each job due 1 s after its push
require "json"
require_relative "sidekiq_job"

SPACING_SECONDS = 0.020
SCHEDULE_AHEAD_SECONDS = 1.0

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def spaced(setter, numbers, ahead)
  started = monotonic
  numbers.each_with_index.map do |n, index|
    delay = started + index * SPACING_SECONDS - monotonic
    sleep(delay) if delay > 0
    pushed_at = Time.now.to_f
    if ahead.nil?
      setter.perform_async(n)
      [n, pushed_at, nil]
    else
      due = pushed_at + ahead
      setter.perform_at(due, n)
      [n, pushed_at, due]
    end
  end
end

mode = ARGV.fetch(0)
jobs = Integer(ARGV.fetch(1))
first = Integer(ARGV.fetch(2, "0"))
queue = ARGV.fetch(3, "default")
numbers = (first...(first + jobs)).to_a
setter = BenchNoop.set(queue: queue)
Sidekiq.redis { |connection| connection.ping }

result =
  case mode
  when "bulk"
    started = monotonic
    Sidekiq::Client.push_bulk("class" => BenchNoop, "queue" => queue, "args" => numbers.map { |n| [n] })
    {jobs: jobs, seconds: monotonic - started}
  when "single"
    started = monotonic
    numbers.each { |n| setter.perform_async(n) }
    {jobs: jobs, seconds: monotonic - started}
  when "spaced"
    {pushes: spaced(setter, numbers, nil)}
  when "schedule"
    {pushes: spaced(setter, numbers, SCHEDULE_AHEAD_SECONDS)}
  else
    abort("unknown mode #{mode.inspect}: expected bulk, single, spaced or schedule")
  end
puts JSON.generate(result)
