import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { now, poll, type RunningMeter } from './meter.js';
import { counterIncrease, type Reading } from './window.js';

export const defaultRaplRoot = '/sys/class/powercap';

interface Zone {
  name: string;
  file: string;
  rangeMicrojoules: number;
  lastMicrojoules: number;
}

/**
 * Intel/AMD RAPL package counters (`intel-rapl:N/energy_uj`, top-level zones only, so subzones
 * are not counted twice; AMD's driver registers under the same name). They cover the whole
 * socket, not only this process: the idle window subtracts what else the socket runs. Read every
 * `intervalMs`, each counter unwrapped between reads (`counterIncrease`). Returns undefined when
 * no counter is readable (most containers; root-only since CVE-2020-8694 on many hosts).
 */
export async function startRapl(root = defaultRaplRoot, intervalMs = 100): Promise<RunningMeter | undefined> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((zone) => /^intel-rapl:\d+$/.test(zone)).sort();
  } catch {
    return undefined;
  }
  const zones: Zone[] = [];
  for (const name of names) {
    try {
      const file = path.join(root, name, 'energy_uj');
      const rangeMicrojoules = await readNumber(path.join(root, name, 'max_energy_range_uj'));
      zones.push({ name, file, rangeMicrojoules, lastMicrojoules: await readNumber(file) });
    } catch {
      // unreadable: not this zone
    }
  }
  if (zones.length === 0) return undefined;

  let joules = 0;
  const readings: Reading[] = [{ seconds: now(), joules }];
  const read = async (): Promise<Reading> => {
    const seconds = now();
    const counters = await Promise.all(zones.map((zone) => readNumber(zone.file)));
    zones.forEach((zone, i) => {
      joules += counterIncrease(zone.lastMicrojoules, counters[i]!, zone.rangeMicrojoules) / 1e6;
      zone.lastMicrojoules = counters[i]!;
    });
    return { seconds, joules };
  };
  const sampler = poll(intervalMs, read, (reading) => readings.push(reading));
  return {
    lagSeconds: 0,
    async stop() {
      await sampler.stop();
      return {
        readings,
        detail: `RAPL package energy of ${zones.map((z) => z.name).join(', ')} (whole socket), read every ${intervalMs} ms`,
      };
    },
  };
}

async function readNumber(file: string): Promise<number> {
  const text = (await readFile(file, 'utf8')).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new Error(`${file}: not a number`);
  return value;
}
