// Package filter is the hub's packet filter for remote-access clients:
// default deny, by the groups named in each client's certificate
// (docs/filter.md has the rules, timeouts and sizes).
//
// The pieces and who owns them:
//
//   - Policy (Compile) is the compiled [[group]] allow lists of one
//     configuration; the caller keeps the one in force and swaps it whole
//     at a reload. Policy.Access hands out the immutable rights of one set
//     of groups, shared by the clients with that set.
//   - Hub holds what every client shares: the hub's tunnel addresses (the
//     source of ICMP answers) and the Directory that finds a client by its
//     leased address, for client-to-client traffic.
//   - Client is one connected client's state, owned by its connection:
//     leases, rights (SetAccess at a reload), the flows it opened, recent
//     first fragments toward it, and its answer budget.
//
// Per packet the tunnel calls Client.FromClient on what a client sends
// (its connection reader, the one writer of that client's flow table) and
// Client.ToClient on what is on its way to a client (any goroutine, the
// TUN reader in practice), counts the Verdict's drops per client, and on
// DropACL asks Client.Answer for the ICMP "administratively prohibited"
// answer. None of these locks anything shared between clients or
// allocates; time is the caller's clock, passed in.
package filter
