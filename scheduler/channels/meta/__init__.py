"""What Instagram and Threads share: both are Meta APIs that answer as Graph does, and both publish a post
as a container first (Meta fetches its media from the campaign's public address), then publish it.

    api         MetaApi: requests for one account, and the one place where Meta's answers become channel errors
    containers  Containers: make, wait for, keep in the ledger, and publish one send's container; settle it
    served      verify: the public address serves a file's exported bytes, checked before Meta fetches it

An adapter builds a `containers.Spec` (its fields, a carousel's items, the media with their public URLs,
scheduler.media.public) and gives `Containers` its `Endpoints`.
"""
