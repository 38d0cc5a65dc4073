import { addon, type CudaInfo } from './native.js';
import { engineVersion } from './version.js';

export interface Info {
  version: string;
  specVersion: number;
  cpu: {
    /** ISAs this CPU and build support, ascending */
    isas: string[];
    /** what a model uses when no isa option or BITEXACT_CPU_ISA is given */
    bestIsa: string;
    /** BITEXACT_CPU_ISA when set */
    forcedIsa: string | null;
    /** ISAs this CPU has whose kernels failed their known-answer self-test; they are never used */
    failedSelfTest: string[];
    threads: number;
  };
  /** backends a model can use here: 'cpu', and 'cuda' when a GPU is usable */
  backends: string[];
  cuda: CudaInfo;
}

export function info(): Info {
  const n = addon().info();
  return {
    version: engineVersion,
    specVersion: n.specVersion,
    cpu: {
      isas: n.isas,
      bestIsa: n.bestIsa,
      forcedIsa: process.env.BITEXACT_CPU_ISA || null,
      failedSelfTest: n.failedSelfTest,
      threads: n.defaultThreads,
    },
    backends: n.backends,
    cuda: n.cuda,
  };
}
