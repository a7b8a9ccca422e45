// This module uses no Deno APIs.
/**
 * The Dockerfile of a membench image (there is no published one): the official Deno image, this
 * repository at /membench with its npm packages and every module cached at build time, and a
 * `membench` command on the PATH, which the manifests of `k8sJobManifests` run.
 *
 * @module
 */
import { K8S_APP_DIR } from "./job.ts";

/** Options of {@linkcode k8sDockerfile}. */
export interface K8sDockerfileOptions {
  /** The Deno version of the base image (`denoland/deno:<version>`). */
  denoVersion: string;
}

/** The permissions `membench` runs with (as `deno task membench`). */
export const K8S_DENO_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
  "--allow-ffi",
];

/**
 * A Dockerfile to build from the repository's root (`docker build -t membench:<version> -f- .`,
 * the Dockerfile on stdin).
 */
export function k8sDockerfile(o: K8sDockerfileOptions): string {
  const run = `exec deno run ${K8S_DENO_PERMISSIONS.join(" ")} ${K8S_APP_DIR}/cli/main.ts "$@"`;
  return [
    "# membench image: build from the root of a membench checkout, for example",
    "#   membench k8s dockerfile | docker build -t membench:TAG -f- .",
    `FROM denoland/deno:${o.denoVersion}`,
    `WORKDIR ${K8S_APP_DIR}`,
    "# The sources only: the npm packages are installed for this image's platform below.",
    "COPY deno.json package.json package-lock.json mod.ts ./",
    "COPY cli ./cli",
    "COPY lib ./lib",
    "COPY scenarios ./scenarios",
    "# npm packages into node_modules (the versions of package-lock.json), then every module.",
    "RUN deno install && deno cache cli/main.ts mod.ts",
    `RUN printf '#!/bin/sh\\n${run}\\n' > /usr/local/bin/membench \\`,
    "    && chmod +x /usr/local/bin/membench && membench version",
    "# redis-server and memcached are not in the image: the pods load servers elsewhere.",
    'ENTRYPOINT ["membench"]',
    "",
  ].join("\n");
}
