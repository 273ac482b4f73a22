import { http, type Person, type Unit } from '@shared/index'

export const listRoots = () => http.get<Unit[]>('/orgs/roots')
export const getUnit = (id: string) => http.get<Unit>(`/orgs/${encodeURIComponent(id)}`)
export const listChildren = (id: string) => http.get<Unit[]>(`/orgs/${encodeURIComponent(id)}/children`)
export const listMembers = (id: string) => http.get<Person[]>(`/orgs/${encodeURIComponent(id)}/members`)
export const getPerson = (id: string) => http.get<Person>(`/people/${encodeURIComponent(id)}`)
export const searchDirectory = (q: string, signal?: AbortSignal) =>
  http.get<{ units: Unit[]; people: Person[] }>('/directory/search', { q }, signal)

/** The clear number, only to dial it (audited on the server). */
export const revealPhone = (personId: string) =>
  http.post<{ value: string }>('/privacy/reveal', {
    target_type: 'user',
    target_id: personId,
    field: 'phone',
    reason: '通讯录拨打电话',
  })

export const KIND_LABELS: Record<string, string> = {
  command: '指挥部',
  committee: '委员会',
  department: '部门',
  grid: '网格',
}
