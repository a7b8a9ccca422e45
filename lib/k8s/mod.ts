/**
 * Kubernetes: the manifests of a sharded run (an Indexed Job of N pods, the scenario in a
 * ConfigMap, results collected from the logs or a shared volume), a YAML writer for them, and the
 * Dockerfile of a membench image.
 *
 * @module
 */
export {
  K8S_APP_DIR,
  K8S_DEFAULT_IMAGE,
  K8S_INDEX_ENV,
  K8S_MAX_SHARDS,
  K8S_RESULTS_DIR,
  K8S_SCENARIO_DIR,
  k8sCollectCommands,
  k8sJobManifests,
  type K8sJobOptions,
  k8sJobProblems,
  k8sLabels,
  type K8sObject,
  k8sResultFile,
  type K8sResults,
  type K8sSpread,
} from "./job.ts";
export { toYaml } from "./yaml.ts";
export { K8S_DENO_PERMISSIONS, k8sDockerfile, type K8sDockerfileOptions } from "./dockerfile.ts";
