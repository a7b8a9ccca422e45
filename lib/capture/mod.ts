/**
 * Capture: packet sources (pcap/pcapng files; libpcap for live capture), link/IP/TCP decoding,
 * TCP reassembly, protocol sessions that pair requests with responses (one file per protocol,
 * on a shared base; `detect.ts` tells which), and the recorder that writes anonymized events to
 * a profile.
 *
 * @module
 */
export * from "./pcap_file.ts";
export * from "./libpcap.ts";
export * from "./decode.ts";
export * from "./tcp_stream.ts";
export * from "./session.ts";
export * from "./mc_ascii_session.ts";
export * from "./mc_binary_session.ts";
export * from "./resp_session.ts";
export * from "./detect.ts";
export * from "./port_survey.ts";
export * from "./recorder.ts";
export * from "./record.ts";
