// This module uses no Deno APIs.
// Sources: memcached's doc/protocol.txt (text and meta commands) and the "Binary Protocol
// Revamped" document (binary), checked against memcached 1.6.18's replies.

/**
 * A memcached operation, the same code whichever protocol carried it (text `get`, meta `mg` and
 * binary GETKQ are all reads; {@linkcode McRequestInfo.protocol} says which wire form it was).
 */
export const McOp = {
  /** Unparsed or unknown command (the server answers `ERROR`). */
  Other: 0,
  Get: 1,
  Gets: 2,
  Gat: 3,
  Gats: 4,
  Set: 5,
  Add: 6,
  Replace: 7,
  Append: 8,
  Prepend: 9,
  Cas: 10,
  Delete: 11,
  Incr: 12,
  Decr: 13,
  Touch: 14,
  FlushAll: 15,
  Version: 16,
  Verbosity: 17,
  Stats: 18,
  Quit: 19,
  /** meta get */
  MetaGet: 20,
  /** meta set */
  MetaSet: 21,
  /** meta delete */
  MetaDelete: 22,
  /** meta arithmetic */
  MetaArithmetic: 23,
  /** meta no-op (ends a quiet pipeline) */
  MetaNoop: 24,
  /** meta debug */
  MetaDebug: 25,
  /** binary NOOP */
  Noop: 26,
  SaslList: 27,
  SaslAuth: 28,
  SaslStep: 29,
} as const;
/** One of the {@linkcode McOp} codes. */
export type McOp = typeof McOp[keyof typeof McOp];

/** Lower-case names of {@linkcode McOp} codes, as memcached's text protocol spells them. */
export const MC_OP_NAMES: readonly string[] = [
  "other",
  "get",
  "gets",
  "gat",
  "gats",
  "set",
  "add",
  "replace",
  "append",
  "prepend",
  "cas",
  "delete",
  "incr",
  "decr",
  "touch",
  "flush_all",
  "version",
  "verbosity",
  "stats",
  "quit",
  "mg",
  "ms",
  "md",
  "ma",
  "mn",
  "me",
  "noop",
  "sasl_list_mechs",
  "sasl_auth",
  "sasl_step",
];

/** What a response line or packet said. */
export const McStatus = {
  /** Unknown upper-case reply line (`RESET`, `ITEM …`, …). */
  Other: 0,
  /** `VALUE key flags bytes [cas]` followed by data: a hit. */
  Value: 1,
  /** `END`: the end of a get's values (or of stats). */
  End: 2,
  Stored: 3,
  NotStored: 4,
  Exists: 5,
  NotFound: 6,
  Deleted: 7,
  Touched: 8,
  /** A decimal line: the result of incr/decr. */
  Number: 9,
  Ok: 10,
  Version: 11,
  /** `STAT name value` */
  Stat: 12,
  /** `ERROR`: unknown command. */
  Error: 13,
  ClientError: 14,
  ServerError: 15,
  /** meta `VA size flags*` followed by data */
  MetaValue: 16,
  /** meta `HD flags*`: success without a value */
  MetaHeader: 17,
  /** meta `EN`: miss */
  MetaMiss: 18,
  /** meta `NF`: not found */
  MetaNotFound: 19,
  /** meta `NS`: not stored */
  MetaNotStored: 20,
  /** meta `EX`: exists (CAS mismatch) */
  MetaExists: 21,
  /** meta `MN`: end of a quiet pipeline */
  MetaNoop: 22,
  /** meta `ME key k=v…`: debug output */
  MetaDebug: 23,
  /** binary response with a non-zero status other than those above */
  BinaryError: 24,
} as const;
/** One of the {@linkcode McStatus} codes. */
export type McStatus = typeof McStatus[keyof typeof McStatus];

/** Names of {@linkcode McStatus} codes, as they appear on the wire (binary: our names). */
export const MC_STATUS_NAMES: readonly string[] = [
  "OTHER",
  "VALUE",
  "END",
  "STORED",
  "NOT_STORED",
  "EXISTS",
  "NOT_FOUND",
  "DELETED",
  "TOUCHED",
  "NUMBER",
  "OK",
  "VERSION",
  "STAT",
  "ERROR",
  "CLIENT_ERROR",
  "SERVER_ERROR",
  "VA",
  "HD",
  "EN",
  "NF",
  "NS",
  "EX",
  "MN",
  "ME",
  "BINARY_ERROR",
];

/** Binary protocol opcodes. */
export const BinOp = {
  Get: 0x00,
  Set: 0x01,
  Add: 0x02,
  Replace: 0x03,
  Delete: 0x04,
  Increment: 0x05,
  Decrement: 0x06,
  Quit: 0x07,
  Flush: 0x08,
  GetQ: 0x09,
  Noop: 0x0a,
  Version: 0x0b,
  GetK: 0x0c,
  GetKQ: 0x0d,
  Append: 0x0e,
  Prepend: 0x0f,
  Stat: 0x10,
  SetQ: 0x11,
  AddQ: 0x12,
  ReplaceQ: 0x13,
  DeleteQ: 0x14,
  IncrementQ: 0x15,
  DecrementQ: 0x16,
  QuitQ: 0x17,
  FlushQ: 0x18,
  AppendQ: 0x19,
  PrependQ: 0x1a,
  Verbosity: 0x1b,
  Touch: 0x1c,
  Gat: 0x1d,
  GatQ: 0x1e,
  SaslListMechs: 0x20,
  SaslAuth: 0x21,
  SaslStep: 0x22,
  GatK: 0x23,
  GatKQ: 0x24,
} as const;

/** Binary protocol response status codes. */
export const BinStatus = {
  NoError: 0x0000,
  KeyNotFound: 0x0001,
  KeyExists: 0x0002,
  ValueTooLarge: 0x0003,
  InvalidArguments: 0x0004,
  ItemNotStored: 0x0005,
  NonNumeric: 0x0006,
  VbucketElsewhere: 0x0007,
  AuthError: 0x0020,
  AuthContinue: 0x0021,
  UnknownCommand: 0x0081,
  OutOfMemory: 0x0082,
  NotSupported: 0x0083,
  InternalError: 0x0084,
  Busy: 0x0085,
  TemporaryFailure: 0x0086,
} as const;

/** Magic byte of a binary request. */
export const BIN_REQUEST = 0x80;
/** Magic byte of a binary response. */
export const BIN_RESPONSE = 0x81;
/** Size of a binary header. */
export const BIN_HEADER = 24;

/** What each binary opcode is: our op, whether it is quiet, whether it returns the key. */
export interface BinOpInfo {
  /** The operation. */
  op: McOp;
  /** A quiet variant (no reply on success; GETQ: no reply on a miss). */
  quiet: boolean;
  /** The response carries the key (GETK, GETKQ, GATK, GATKQ). */
  withKey: boolean;
}

const BIN_INFO: Array<BinOpInfo | undefined> = [];
function bin(code: number, op: McOp, quiet = false, withKey = false): void {
  BIN_INFO[code] = { op, quiet, withKey };
}
bin(BinOp.Get, McOp.Get);
bin(BinOp.Set, McOp.Set);
bin(BinOp.Add, McOp.Add);
bin(BinOp.Replace, McOp.Replace);
bin(BinOp.Delete, McOp.Delete);
bin(BinOp.Increment, McOp.Incr);
bin(BinOp.Decrement, McOp.Decr);
bin(BinOp.Quit, McOp.Quit);
bin(BinOp.Flush, McOp.FlushAll);
bin(BinOp.GetQ, McOp.Get, true);
bin(BinOp.Noop, McOp.Noop);
bin(BinOp.Version, McOp.Version);
bin(BinOp.GetK, McOp.Get, false, true);
bin(BinOp.GetKQ, McOp.Get, true, true);
bin(BinOp.Append, McOp.Append);
bin(BinOp.Prepend, McOp.Prepend);
bin(BinOp.Stat, McOp.Stats);
bin(BinOp.SetQ, McOp.Set, true);
bin(BinOp.AddQ, McOp.Add, true);
bin(BinOp.ReplaceQ, McOp.Replace, true);
bin(BinOp.DeleteQ, McOp.Delete, true);
bin(BinOp.IncrementQ, McOp.Incr, true);
bin(BinOp.DecrementQ, McOp.Decr, true);
bin(BinOp.QuitQ, McOp.Quit, true);
bin(BinOp.FlushQ, McOp.FlushAll, true);
bin(BinOp.AppendQ, McOp.Append, true);
bin(BinOp.PrependQ, McOp.Prepend, true);
bin(BinOp.Verbosity, McOp.Verbosity);
bin(BinOp.Touch, McOp.Touch);
bin(BinOp.Gat, McOp.Gat);
bin(BinOp.GatQ, McOp.Gat, true);
bin(BinOp.SaslListMechs, McOp.SaslList);
bin(BinOp.SaslAuth, McOp.SaslAuth);
bin(BinOp.SaslStep, McOp.SaslStep);
bin(BinOp.GatK, McOp.Gat, false, true);
bin(BinOp.GatKQ, McOp.Gat, true, true);

/** What a binary opcode means, or undefined for an opcode memcached does not define. */
export function binOpInfo(opcode: number): BinOpInfo | undefined {
  return BIN_INFO[opcode];
}

/** A short name for a binary status, used as an error code in results (`E2BIG`, …). */
export function binStatusName(status: number): string {
  switch (status) {
    case BinStatus.NoError:
      return "OK";
    case BinStatus.KeyNotFound:
      return "NOT_FOUND";
    case BinStatus.KeyExists:
      return "EXISTS";
    case BinStatus.ValueTooLarge:
      return "E2BIG";
    case BinStatus.InvalidArguments:
      return "EINVAL";
    case BinStatus.ItemNotStored:
      return "NOT_STORED";
    case BinStatus.NonNumeric:
      return "DELTA_BADVAL";
    case BinStatus.VbucketElsewhere:
      return "NOT_MY_VBUCKET";
    case BinStatus.AuthError:
      return "AUTH_ERROR";
    case BinStatus.AuthContinue:
      return "AUTH_CONTINUE";
    case BinStatus.UnknownCommand:
      return "UNKNOWN_COMMAND";
    case BinStatus.OutOfMemory:
      return "ENOMEM";
    case BinStatus.NotSupported:
      return "NOT_SUPPORTED";
    case BinStatus.InternalError:
      return "EINTERNAL";
    case BinStatus.Busy:
      return "EBUSY";
    case BinStatus.TemporaryFailure:
      return "ETMPFAIL";
    default:
      return `STATUS_0x${status.toString(16).padStart(4, "0")}`;
  }
}

/** Longest key memcached accepts. */
export const MC_MAX_KEY = 250;
/** Longest text line we buffer before failing (memcached's own limit is lower for most lines). */
export const MC_MAX_LINE = 64 * 1024;
/** Largest value we accept in a frame (memcached's item size maximum is 1 MiB by default). */
export const MC_MAX_VALUE = 1024 * 1024 * 1024;
