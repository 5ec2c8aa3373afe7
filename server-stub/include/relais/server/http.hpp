#pragma once
// The HTTP face of the server (cpp-httplib): the routes of docs/protocol.md over a ServerStore.
// httplib.h stays inside http.cpp; this header only shows what main needs.
#include <memory>
#include <string>

namespace relais {
class ImpactFactors;
}

namespace relais::server {

class ServerStore;

class HttpServer {
 public:
  // `factors` (the impact factor table) must outlive the server.
  HttpServer(ServerStore& store, const ImpactFactors& factors);
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
