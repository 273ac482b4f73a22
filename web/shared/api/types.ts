/** Shapes of the API answers (docs/api.md). */

export type UnitKind = 'command' | 'committee' | 'department' | 'grid'

export interface MeUnit {
  id: string
  name: string
  kind: UnitKind
  path_names: string[]
  position: string | null
}

export interface RoleAssignment {
  id: string
  role: string
  role_label: string
  unit_id: string
  unit_name: string
}

export interface Me {
  id: string
  name: string
  username: string
  phone_masked: string
  phone_last4: string
  units: MeUnit[]
  roles: RoleAssignment[]
  permissions: string[]
  is_admin: boolean
  idle_timeout_seconds: number
  totp_enabled: boolean
}

export type MfaState = 'none' | 'required' | 'setup_required'

export interface LoginAnswer {
  token: string
  expires_at: string
  mfa: MfaState
  me: Me
}

export interface TotpSetup {
  secret: string
  otpauth_uri: string
  qr_svg: string
}

export interface Unit {
  id: string
  name: string
  kind: UnitKind
  level: number
  division_code: string | null
  parent_id: string | null
  has_children: boolean
  member_count: number
  ancestors?: { id: string; name: string }[]
}

export interface Person {
  id: string
  name: string
  phone_masked: string
  units: { id: string; name: string; position: string | null }[]
  activated: boolean
}

export interface Page<T> {
  items: T[]
  total: number
}
