import { http, type Page, type RoleAssignment } from '@shared/index'

export type AccountStatus = 'pending' | 'active' | 'disabled'

export interface Account {
  id: string
  name: string
  username: string | null
  phone_masked: string
  id_number_masked: string | null
  status: AccountStatus
  units: { id: string; name: string; position: string | null }[]
  roles: RoleAssignment[]
  activated_at: string | null
  created_at: string
}

export interface AccountFilter {
  unit_id?: string
  q?: string
  status?: AccountStatus | ''
  page: number
  page_size: number
}

export interface AccountCreate {
  name: string
  phone: string
  unit_id: string
  position: string
  id_number?: string
  username?: string
}

export interface ImportResult {
  import_id: string
  accepted: number
  rejected: number
  errors: { row: number; field: string; reason: string }[]
}

export interface ActivationCodeSet {
  unit_id: string
  unit_name: string
  count: number
  issued_at: string
  expires_at: string
}

export interface RoleDefinition {
  role: string
  label: string
  scope: string
  permissions: string[]
}

export const listAccounts = (f: AccountFilter) => http.get<Page<Account>>('/accounts', { ...f })
export const createAccount = (body: AccountCreate) => http.post<Account>('/accounts', body)
export const disableAccount = (id: string) => http.post<Account>(`/accounts/${id}/disable`)
export const enableAccount = (id: string) => http.post<Account>(`/accounts/${id}/enable`)
export const resetActivation = (id: string) => http.post<Account>(`/accounts/${id}/reset-activation`)
export const listRoles = () => http.get<RoleDefinition[]>('/roles')
export const assignRole = (id: string, role: string, unitId: string) => http.post<Account>(`/accounts/${id}/roles`, { role, unit_id: unitId })
export const revokeRole = (id: string, assignmentId: string) => http.delete<Account>(`/accounts/${id}/roles/${assignmentId}`)

export function importRoster(file: File) {
  const form = new FormData()
  form.append('file', file)
  return http.upload<ImportResult>('/accounts/import', form)
}

export const importReportPath = (importId: string) => `/api/accounts/import/${encodeURIComponent(importId)}/report`
// POST issues a new set (earlier unused codes stop working); GET downloads the latest issued set.
export const issueActivationCodes = (unitId: string) => http.post<ActivationCodeSet>(`/orgs/${encodeURIComponent(unitId)}/activation-codes`)
export const activationCodesPath = (unitId: string) => `/api/orgs/${encodeURIComponent(unitId)}/activation-codes`

export const STATUS_LABELS: Record<AccountStatus, string> = { pending: '待激活', active: '已激活', disabled: '已停用' }
export const STATUS_TAGS: Record<AccountStatus, 'warning' | 'success' | 'info'> = { pending: 'warning', active: 'success', disabled: 'info' }
export const SCOPE_LABELS: Record<string, string> = { self: '本人', org: '本单位', subtree: '本单位及下级', all: '全部' }
