#pragma once
// The HTTP face of the server (cpp-httplib): the routes of docs/protocol.md over a ServerStore.
// httplib.h stays inside http.cpp; this header only shows what main needs.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace relais {
class ImpactFactors;
}

namespace relais::server {

class ServerStore;

// What one connection may cost before it is closed (docs/server.md, "Security model"). Each
// connection has a thread of its own, so that a slow one delays nobody else; these bound how
// many there are and how long each may take.
struct HttpLimits {
  // Connections open at once. Past it, the connection that has waited longest for its next
  // request (idle, or still sending its request head) is closed; when every connection is in a
  // request, the new one is answered 503 and closed.
  std::size_t max_connections = 512;
  // From the moment a connection is accepted, or has had its answer: the first byte of the next
  // request within idle_timeout, and the whole request head within head_timeout.
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds head_timeout{10000};
  // The body, from the end of the head: body_grace plus one second for every body_min_rate
  // bytes of its Content-Length, body_timeout_max at most (and for a chunked body).
  std::chrono::milliseconds body_grace{10000};
  std::size_t body_min_rate = 8 * 1024;
  std::chrono::milliseconds body_timeout_max{120000};
  // Each write of an answer must get through within this (the client must read it).
  std::chrono::milliseconds write_timeout{5000};
};

class HttpServer {
 public:
  // `factors` (the impact factor table) must outlive the server.
  HttpServer(ServerStore& store, const ImpactFactors& factors, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on host:port (port 0: any free port). Returns the port bound; throws
  // std::runtime_error when the address cannot be bound.
  int bind(const std::string& host, int port);
  // Serves the bound socket until stop(). False when serving failed.
  bool serve();
  // Stops serve() from any thread (not from a signal handler).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::server
