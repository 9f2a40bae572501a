package huntinglab

// GraphContext is Graph's @odata.context, for the tests.
const GraphContext = graphContext
