// This module uses no Deno APIs.
import { withSchema } from "./schemas.ts";
/**
 * What `membench profile info` shows of a profile: its header, connections, event count and
 * footer. Written out here because `report/` may not import `profile/`'s types (the layer
 * table); the profile reader's header and footer are ones of these.
 */
export interface ProfileInfoView {
  /** The header. */
  header: {
    formatVersion: number;
    tool: string;
    createdAt: string;
    source: string;
    anonymization: { scheme: string; saltFingerprint: string };
  };
  /** The connections. */
  connections: unknown[];
  /** Events read. */
  events: number;
  /** The footer (null when the file was cut short). */
  footer: { opCounts: Record<string, number>; capture: Record<string, number> } | null;
  /** Whether the file ended before its footer. */
  truncated: boolean;
}

/** `membench profile info` as text. */
export function formatProfileInfo(file: string, info: ProfileInfoView): string {
  const h = info.header;
  const lines = [
    `profile ${file}: format ${h.formatVersion}, written by ${h.tool}`,
    `  created ${h.createdAt}, source: ${h.source}`,
    `  anonymization: ${h.anonymization.scheme}, salt fingerprint ${h.anonymization.saltFingerprint}`,
    `  ${info.events} events, ${info.connections.length} connections${
      info.truncated ? " (TRUNCATED: footer missing)" : ""
    }`,
  ];
  if (info.footer) {
    lines.push(
      `  ops: ${Object.entries(info.footer.opCounts).map(([k, c]) => `${k} ${c}`).join(", ")}`,
      `  capture: ${Object.entries(info.footer.capture).map(([k, c]) => `${k} ${c}`).join(", ")}`,
    );
  }
  return lines.join("\n");
}

/** What `membench profile verify` found (the fields of profile's `ProfileCheck`). */
export interface ProfileCheckView {
  /** Whole and consistent. */
  ok: boolean;
  /** Events read. */
  events: number;
  /** Event blocks read. */
  blocks: number;
  /** Cut short. */
  truncated: boolean;
  /** Problems found. */
  problems: string[];
}

/** `membench profile verify` as text: ok or NOT OK, counts, one problem a line. */
export function formatProfileCheck(c: ProfileCheckView): string {
  return `${c.ok ? "ok" : "NOT OK"}: ${c.events} events in ${c.blocks} blocks${
    c.truncated ? " (truncated)" : ""
  }${c.problems.map((p) => `\n  ${p}`).join("")}`;
}

/** `membench profile info --json` (`membench/profile-info@1`). */
export function formatProfileInfoJson(file: string, info: ProfileInfoView): string {
  return JSON.stringify(withSchema("profile-info", { file, ...info }), null, 2) + "\n";
}

/** `membench profile verify --json` (`membench/profile-verify@1`). */
export function formatProfileCheckJson(file: string, c: ProfileCheckView): string {
  return JSON.stringify(withSchema("profile-verify", { file, ...c }), null, 2) + "\n";
}
