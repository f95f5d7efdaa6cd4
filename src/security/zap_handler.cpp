#include "security/zap_handler.hpp"

#include "security/socket_security.hpp"

#include <array>
#include <sodium.h>

namespace midimesh::security {
namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";

} // namespace

ZapHandler::ZapHandler(zmq::context_t& context, const MeshKeys& keys)
    : socket_(context, zmq::socket_type::rep), member_key_(keys.client_public) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(zap_endpoint);
}

std::vector<ZapHandler::Refusal> ZapHandler::on_readable() {
  std::vector<Refusal> refusals;
  // A request: version, request id, domain, address, identity, mechanism, credentials...
  std::vector<zmq::message_t> request;
  for (;;) {
    request.clear();
    zmq::message_t part;
    if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
    request.push_back(std::move(part));
    while (request.back().more()) {
      zmq::message_t next;
      (void)socket_.recv(next, zmq::recv_flags::none); // parts of a message arrive together
      request.push_back(std::move(next));
    }
    std::string why;
    if (request.size() < 7 || request[0].to_string_view() != "1.0")
      why = "a malformed ZAP request";
    else if (request[2].to_string_view() != zap_domain)
      why = "another ZAP domain";
    else if (request[5].to_string_view() != "CURVE")
      why = "not secured";
    else if (request[6].size() != member_key_.size() ||
             sodium_memcmp(request[6].data(), member_key_.data(), member_key_.size()) != 0)
      why = "not the mesh's member key";
    const bool admit = why.empty();
    ++(admit ? admitted_ : refused_);
    if (!admit) refusals.push_back({request.size() > 3 ? request[3].to_string() : "", why});
    // The reply: version, request id, status code, status text, user id, metadata.
    const std::string request_id = request.size() > 1 ? request[1].to_string() : "";
    const std::array<std::string, 6> reply = {
        "1.0", request_id, admit ? "200" : "400", admit ? "OK" : why, admit ? "member" : "", ""};
    for (std::size_t i = 0; i < reply.size(); ++i)
      (void)socket_.send(zmq::buffer(reply[i]),
                         i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  return refusals;
}

} // namespace midimesh::security
