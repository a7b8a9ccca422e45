// This module uses no Deno APIs.
/** membench's version, as in deno.json. */
export const VERSION = "0.1.0";
