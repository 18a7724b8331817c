# The no-op job that Sidekiq runs in the benchmarks, the Ruby twin of bench_job.py:
# one syswrite of "<n> <epoch seconds at job start>\n" to the O_APPEND file BENCH_OUTPUT.
require "sidekiq"

# Debian's Sidekiq 6.4 with redis-rb 4.8 prints a deprecation warning about
# SADD's return value on every push; printing it would slow the client down.
Redis.silence_deprecations = true

BENCH_OUT = File.open(ENV.fetch("BENCH_OUTPUT"), File::WRONLY | File::APPEND | File::CREAT, 0o644)

class BenchNoop
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(n)
    started = Time.now.to_f
    BENCH_OUT.syswrite(format("%d %.6f\n", n, started))
  end
end
