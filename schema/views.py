from strawberry.django.views import GraphQLView as StrawberryGraphQLView


class GraphQLView(StrawberryGraphQLView):
    """/graphql/: GraphiQL for browsers, JSON for everyone else."""
