// Usernames and emails: the rules and the stored (lowercase) forms are @tms/contracts', shared
// with the events and the other services; what is auth's own is how a login name is read.

/** A login name is an email when it has an @, which a username never has. */
export function isEmailLogin(login: string): boolean {
  return login.includes('@')
}
