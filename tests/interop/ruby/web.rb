# Serve Sidekiq's Web UI on 127.0.0.1 with WEBrick, for the interop tests.
#
# Usage: ruby web.rb
# Sidekiq connects to $REDIS_URL. The server binds a free loopback port and
# prints "port <N>" on stdout once it listens; TERM stops it.

require "securerandom"
require "rack"
require "rack/handler/webrick"
require "rack/session/cookie"
require "sidekiq"
require "sidekiq/web"
require "webrick"

# Sidekiq::Web keeps its CSRF token in the Rack session, so it needs a
# session middleware in front of it.
app = Rack::Builder.new do
  use Rack::Session::Cookie, secret: SecureRandom.hex(32), same_site: true, max_age: 86_400
  run Sidekiq::Web
end

server = WEBrick::HTTPServer.new(
  BindAddress: "127.0.0.1",
  Port: 0,
  Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN),
  AccessLog: [],
)
server.mount("/", Rack::Handler::WEBrick, app)
trap("TERM") { server.shutdown }

puts "port #{server.listeners.first.addr[1]}"
$stdout.flush
server.start
