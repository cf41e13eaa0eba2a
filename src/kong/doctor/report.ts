/** The shape of `kong doctor`'s report, and the two ways a check ends. */

/** One line of the report. `fix` is the line that repairs a failure (null when it passed). */
export interface DoctorCheck {
  readonly name: string
  readonly ok: boolean
  readonly message: string
  readonly fix: string | null
}

/** The whole report: `ok` when every check passed. */
export interface DoctorReport {
  readonly ok: boolean
  readonly checks: readonly DoctorCheck[]
}

/** The environment Kong runs with (KONG_* variables, PATH). */
export type KongEnv = Readonly<Record<string, string | undefined>>

export const pass = (name: string, message: string): DoctorCheck => ({
  name,
  ok: true,
  message,
  fix: null,
})
export const fail = (name: string, message: string, fix: string): DoctorCheck => ({
  name,
  ok: false,
  message,
  fix,
})
