import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import type { RunningMeter } from './meter.js';

export const defaultRaplRoot = '/sys/class/powercap';

interface Package {
  name: string;
  file: string;
  maxMicrojoules: number;
  startMicrojoules: number;
}

/**
 * Intel/AMD RAPL package counters (`intel-rapl:N/energy_uj`, top-level zones only, so subzones
 * are not counted twice). They cover the whole socket, not only this process. A counter that went
 * down wrapped once past `max_energy_range_uj`; runs are seconds long, far below a second wrap.
 * Returns undefined when no counter is readable (most containers).
 */
export async function startRapl(root = defaultRaplRoot): Promise<RunningMeter | undefined> {
  let zones: string[];
  try {
    zones = (await readdir(root)).filter((zone) => /^intel-rapl:\d+$/.test(zone)).sort();
  } catch {
    return undefined;
  }
  const packages: Package[] = [];
  for (const zone of zones) {
    try {
      const file = path.join(root, zone, 'energy_uj');
      const maxMicrojoules = await readNumber(path.join(root, zone, 'max_energy_range_uj'));
      packages.push({ name: zone, file, maxMicrojoules, startMicrojoules: await readNumber(file) });
    } catch {
      // unreadable (root-only since CVE-2020-8694 on many hosts): not this zone
    }
  }
  if (packages.length === 0) return undefined;
  return {
    async stop() {
      let microjoules = 0;
      for (const pkg of packages) {
        const end = await readNumber(pkg.file);
        microjoules +=
          end >= pkg.startMicrojoules
            ? end - pkg.startMicrojoules
            : pkg.maxMicrojoules - pkg.startMicrojoules + end + 1;
      }
      return {
        joules: microjoules / 1e6,
        detail: `RAPL package energy of ${packages.map((p) => p.name).join(', ')} (whole socket)`,
      };
    },
  };
}

async function readNumber(file: string): Promise<number> {
  const value = Number((await readFile(file, 'utf8')).trim());
  if (!Number.isFinite(value)) throw new Error(`${file}: not a number`);
  return value;
}
