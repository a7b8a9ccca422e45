/** Shared by the bench scripts that write a synthetic profile (no capture behind it). */
import { ProfileWriter, type ProfileWriterOptions } from "../mod.ts";

/** A profile writer whose header says the events are synthetic and no salt was used. */
export function syntheticProfile(path: string, options?: ProfileWriterOptions) {
  return ProfileWriter.create(path, {
    tool: "bench",
    createdAt: new Date().toISOString(),
    startUs: 0,
    source: "synthetic",
    anonymization: {
      scheme: "siphash-2-4",
      saltFingerprint: "0",
      keepTokens: 0,
      tokenDelimiter: ":",
      keepSlots: false,
    },
  }, options);
}
