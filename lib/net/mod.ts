/**
 * Connections: targets (host:port, URIs, unix sockets), TCP/TLS/unix transports with timeouts,
 * and a RESP connection with the handshake (AUTH, HELLO 3, CLIENT SETNAME, SELECT).
 *
 * @module
 */
export * from "./target.ts";
export * from "./transport.ts";
export * from "./resp_connection.ts";
export * from "./memcache_connection.ts";
export * from "./uring.ts";
export * from "./pipeline.ts";
export * from "./engine.ts";
export * from "./router.ts";
