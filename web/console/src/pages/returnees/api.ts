import { http, type Unit } from '@shared/index'
import type { ReturneeStatus } from '@shared/returnees/api'
export * from '@shared/returnees/api'

export const STATUS_TAG: Record<ReturneeStatus, 'info' | 'primary' | 'warning' | 'success' | 'danger'> = {
  routing: 'info',
  dispatched: 'danger',
  acknowledged: 'warning',
  monitoring: 'primary',
  released: 'success',
}
export const CODE_TAG: Record<string, 'success' | 'warning' | 'danger'> = { green: 'success', yellow: 'warning', red: 'danger' }

const enc = encodeURIComponent

// the village picker of the routing and reassignment dialogs
export const orgRoots = () => http.get<Unit[]>('/orgs/roots')
export const orgChildren = (id: string) => http.get<Unit[]>(`/orgs/${enc(id)}/children`)
export const orgUnit = (id: string) => http.get<Unit & { ancestors: { id: string; name: string }[] }>(`/orgs/${enc(id)}`)
export const searchUnits = (q: string) => http.get<{ units: Unit[] }>('/directory/search', { q })
