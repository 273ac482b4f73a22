import { http } from '@shared/index'

export interface ActivationStat {
  id: string
  name: string
  total: number
  activated: number
  rate: number
}

export interface ActivationStats {
  unit: ActivationStat
  children: ActivationStat[]
}

export const getActivationStats = (unitId?: string) => http.get<ActivationStats>('/stats/activation', { unit_id: unitId })

/** rate may come as a fraction (0.983) or a percentage (98.3) */
export function percent(stat: ActivationStat): number {
  if (stat.total > 0 && Number.isFinite(stat.activated)) return Math.round((stat.activated / stat.total) * 1000) / 10
  const r = stat.rate ?? 0
  return Math.round((r <= 1 ? r * 100 : r) * 10) / 10
}
